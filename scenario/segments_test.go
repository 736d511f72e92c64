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
