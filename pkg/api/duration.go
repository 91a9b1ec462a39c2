package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Duration is a span of time that encodes in JSON as a number of seconds,
// rounded to the nearest whole second, so shell tools and dashboards read
// it without parsing. It decodes from any JSON number of seconds.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes whole seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(time.Duration(d).Round(time.Second)/time.Second), 10), nil
}

// maxSeconds is the longest Duration in seconds, so decoding cannot
// overflow.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// UnmarshalJSON reads a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a number of seconds", b)
	}
	if math.IsNaN(s) || math.Abs(s) > maxSeconds {
		return fmt.Errorf("duration %s: out of range", b)
	}
	*d = Duration(s * float64(time.Second))
	return nil
}
