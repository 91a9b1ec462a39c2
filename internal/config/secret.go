package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
)

const redacted = "[redacted]"

// Secret is a password or token. However it is printed or encoded (fmt
// with any verb, JSON, YAML, zap) it shows only whether it is set, so a
// Config can be logged whole. Reveal gives the value to the code that
// must send it.
type Secret struct{ value string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String is "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format keeps every fmt verb (%x, %d, %q, ...) from printing the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML encodes the redacted form.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// URL is a URL that may carry a password (redis://user:pass@host). It
// prints and encodes with the password replaced by "xxxxx"; convert it
// with string() to use it.
type URL string

// String is the URL with any password redacted; a URL that does not parse
// is redacted whole, since where its password is cannot be known.
func (u URL) String() string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(string(u))
	if err != nil {
		return redacted
	}
	return p.Redacted()
}

// GoString keeps %#v from printing the password.
func (u URL) GoString() string { return u.String() }

// Format keeps every fmt verb from printing the password.
func (u URL) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, u.String()) }

// MarshalJSON encodes the redacted form.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalYAML encodes the redacted form.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }
