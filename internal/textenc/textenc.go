// Package textenc holds what the encoding.TextUnmarshaler methods of netxsim's small value types
// (capture formats, signatures, VXLAN configs) have in common.
package textenc

// Unmarshal parses b with parse and stores the result in dst, leaving dst as it was on error: the
// whole of UnmarshalText for a type X that has a ParseX(string) (X, error).
func Unmarshal[T any](dst *T, b []byte, parse func(string) (T, error)) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
