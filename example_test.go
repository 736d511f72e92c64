package netxsim_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// Three devices on one in-memory switch, the third behind a lossy port; one pings the others.
func ExampleNetwork_Switch() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var n netxsim.Network
	defer n.Close()
	lan, err := n.Switch("lan", link.SwitchConfig{Ports: 3, Port: []link.PortConfig{2: {In: link.Impairment{Loss: 0.01}}}})
	if err != nil {
		log.Fatal(err)
	}
	cfg := func(name string, host byte) netxsim.DeviceConfig {
		return netxsim.DeviceConfig{Config: stack.Config{Name: name, IPv4: netxsim.IPv4(host), SkipDAD: true}}
	}
	devs, err := n.AddDevices(ctx, lan, cfg("dev", 2), cfg("host", 1), cfg("third", 3))
	if err != nil {
		log.Fatal(err)
	}
	for _, peer := range devs[1:] {
		addr, _ := peer.Addr(false)
		if _, err := devs[0].IP().Ping(ctx, addr); err != nil {
			log.Fatal(err)
		}
		fmt.Println("dev reaches", peer.Name(), addr)
	}
	// Output:
	// dev reaches host 198.51.100.1
	// dev reaches third 198.51.100.3
}
