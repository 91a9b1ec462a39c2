package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestJitterStaysUnderItsCeiling(t *testing.T) {
	tests := []struct {
		n       int
		ceiling time.Duration
	}{{0, 10 * time.Millisecond}, {2, 40 * time.Millisecond}, {10, time.Second}, {40, time.Second}}
	for _, tt := range tests {
		var top time.Duration
		for range 2000 {
			d := Jitter(10*time.Millisecond, time.Second, tt.n)
			if d < 0 || d >= tt.ceiling {
				t.Fatalf("Jitter(n=%d) = %v, want in [0, %v)", tt.n, d, tt.ceiling)
			}
			top = max(top, d)
		}
		if top < tt.ceiling/2 {
			t.Errorf("Jitter(n=%d) never went past %v of a %v ceiling: not full jitter", tt.n, top, tt.ceiling)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"0", 0}, {"-2", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.v, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
