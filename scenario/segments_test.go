package scenario

import (
	"strings"
	"testing"
)

// Segments, device images, quote and the new expectations are checked at load time, with the path.
func TestSegmentErrors(t *testing.T) {
	three := strings.Replace(goodYAML, "steps:", "  - {name: x, ipv4: 198.51.100.3/24}\nsteps:", 1)
	for _, tc := range []struct{ name, yaml, want string }{
		{"one-device switch", goodYAML + "segments: [{devices: [d]}]\n", "segments[0].devices: a switch joins at least two"},
		{"unknown device", goodYAML + "segments: [{devices: [d, h, q]}]\n", `no device named "q"`},
		{"twice", goodYAML + "links: [{between: [d, h]}]\nsegments: [{devices: [d, h]}]\n", "already on a link"},
		{"port of a stranger", goodYAML + "segments: [{devices: [d, h], ports: {q: {in: {loss: 1%}}}}]\n", `port of "q"`},
		{"bad port impairment", goodYAML + "segments: [{devices: [d, h], ports: {h: {out: {queue: -1}}}}]\n", "QueueLen"},
		{"tap with three", goodYAML + "segments: [{type: tap, devices: [d, h, d]}]\n", "a tap segment has two devices"},
		{"unknown type", goodYAML + "segments: [{type: hub, devices: [d, h]}]\n", `segment type "hub"`},
		{"device on nothing", strings.Replace(three, "steps:", "segments: [{devices: [d, h]}]\nsteps:", 1), "device x is on no link or segment"},
		{"quote with CR", strings.Replace(goodYAML, "{put: {remote: a, size: 10}}", `{quote: "NOOP\rX"}`, 1), "without line breaks"},
		{"reply without quote", strings.Replace(goodYAML, "{put: {remote: a, size: 10}}", "{put: {remote: a, size: 10}, reply: 200}", 1), "reply goes with quote"},
		{"listen on 21", strings.Replace(goodYAML, "    server: {users", "    listen: [21]\n    server: {users", 1), "listen port 21"},
		{"connections without listen", goodYAML + "expect: {connections: [{device: h, port: 9, count: 0}]}\n", "does not listen on port 9"},
		{"same_as nowhere", goodYAML + "expect: {files: [{device: d, path: a, same_as: \"h:a\"}]}\n", "same_as"},
		{"put local bad", strings.Replace(goodYAML, "{put: {remote: a, size: 10}}", "{put: {remote: a, local: ../x}}", 1), "put.local"},
		{"192.0.2", strings.Replace(goodYAML, "198.51.100.1/24", "192.0.2.1/24", 1), "192.0.2.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVXLANSegmentValidation(t *testing.T) {
	base := "name: v\ndevices:\n  - {name: a, ipv4: 198.51.100.1/24}\n  - {name: b, ipv4: 198.51.100.2/24, server: {users: {u: p}}}\n"
	for yml, want := range map[string]string{
		"segments:\n  - {type: vxlan, devices: [a]}\n  - {type: vxlan, devices: [b], vxlan: \"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1\"}\n":                                                                                                         "needs vxlan:",
		"segments:\n  - {type: vxlan, devices: [a, b], vxlan: \"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1\"}\n":                                                                                                                                       "has one device",
		"segments:\n  - {type: vxlan, devices: [a], vxlan: \"local=127.0.0.1:1,remote=192.0.2.1:2,vni=1\"}\n  - {type: vxlan, devices: [b], vxlan: \"local=127.0.0.1:2,remote=127.0.0.1:1,vni=1\"}\n":                                                  "192.0.2.0/24 is refused",
		"segments:\n  - {type: switch, devices: [a, b], vxlan: \"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1\"}\n":                                                                                                                                      "vxlan is for type: vxlan",
		"segments:\n  - {type: vxlan, devices: [a], vxlan: \"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1\"}\n  - {type: vxlan, devices: [b], vxlan: \"local=127.0.0.1:2,remote=127.0.0.1:1,vni=2\"}\nsteps:\n  - {client: a, server: b, do: [ls: /]}\n": "not on the same link or segment",
	} {
		_, err := Parse([]byte(base+yml), "v.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error with %q", yml, err, want)
		}
	}
}
