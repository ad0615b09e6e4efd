//go:build cgo

package offheap

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goNamesOnly fails when an error's text names a field as Rust or C code spells it.
func goNamesOnly(t *testing.T, err error) {
	t.Helper()
	for _, foreign := range []string{"Config::", "Options::", "offheap_aggregator_config", "max_future",
		"max_series", "max_buckets", "key_label", "max_key_len"} {
		if strings.Contains(err.Error(), foreign) {
			t.Errorf("%q names a field the Go caller does not know (%q)", err, foreign)
		}
	}
}

// Every AggregatorConfig field the library refuses is named as Go code spells it, before the
// library's own message and the status: "NewAggregator: AggregatorConfig.MaxFutureSkew:
// offheap: window: the maximum future skew spans ... (status 306)". Field holds the name.
func TestNewAggregatorErrorsNameTheGoField(t *testing.T) {
	seen := map[uint32]bool{}
	for _, c := range []struct {
		cfg AggregatorConfig
		st  uint32
	}{
		{AggregatorConfig{Mode: 9, Width: time.Minute}, statusWindowInvalidMode},
		{AggregatorConfig{Mode: Sliding}, statusWindowInvalidWidth},
		{AggregatorConfig{Width: time.Minute, Slices: 7}, statusWindowInvalidSlices},
		{AggregatorConfig{Width: time.Minute, Slices: 65}, statusWindowInvalidSlices},
		{AggregatorConfig{Width: time.Minute, Alpha: 0.6}, statusWindowInvalidAlpha},
		{AggregatorConfig{Width: time.Minute, Alpha: 0.00001}, statusWindowInvalidAlpha},
		{AggregatorConfig{Width: time.Minute, MaxBuckets: 8}, statusWindowInvalidBuckets},
		{AggregatorConfig{Width: time.Minute, Shards: 1, MaxSeries: 1<<24 + 1}, statusWindowInvalidSeriesCap},
		{AggregatorConfig{Width: time.Minute, Shards: 3}, statusWindowInvalidShards},
		{AggregatorConfig{Width: time.Minute, Slices: 6, MaxFutureSkew: time.Hour}, statusWindowInvalidFutureSkew},
		{AggregatorConfig{Width: time.Minute, Name: "a-b"}, statusWindowInvalidName},
		{AggregatorConfig{Width: time.Minute, Name: "x_count"}, statusWindowInvalidName},
		{AggregatorConfig{Width: time.Minute, Help: strings.Repeat("h", 1<<20+1)}, statusWindowInvalidHelp},
		{AggregatorConfig{Width: time.Minute, Help: "not \xff UTF-8"}, statusWindowInvalidHelp},
		{AggregatorConfig{Width: time.Minute, KeyLabel: "__name__"}, statusWindowInvalidKeyLabel},
		{AggregatorConfig{Width: time.Minute, KeyLabel: "quantile"}, statusWindowInvalidKeyLabel},
		{AggregatorConfig{Width: time.Minute, KeyFormat: 7}, statusWindowInvalidKeyFormat},
		{AggregatorConfig{Width: time.Minute, MetricType: 9}, statusWindowInvalidType},
	} {
		_, err := NewAggregator(c.cfg)
		var e *Error
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &e) || e.Status != c.st {
			t.Errorf("NewAggregator(%+v) = %v, want ErrInvalidConfig with status %d", c.cfg, err, c.st)
			continue
		}
		seen[c.st] = true
		field := aggregatorConfigFields[c.st]
		want := "NewAggregator: " + field + ": " + statusMessage(c.st) + " (status " + strconv.Itoa(int(c.st)) + ")"
		if e.Field != field || err.Error() != want || statusMessage(c.st) == "" {
			t.Errorf("NewAggregator(%+v) = %q (Field %q), want %q", c.cfg, err, e.Field, want)
		}
		goNamesOnly(t, err)
	}
	for st, field := range aggregatorConfigFields {
		if !seen[st] {
			t.Errorf("no config here is refused with status %d (%s)", st, field)
		}
	}
}

// The fields NewAggregator checks itself are named the same way, with the rule (and for a
// quantile, the library's message).
func TestNewAggregatorGoSideErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		cfg         AggregatorConfig
		field, want string
	}{
		{AggregatorConfig{Width: -time.Second}, "AggregatorConfig.Width", "is negative (-1000000000)"},
		{AggregatorConfig{Width: time.Minute, Shards: 512}, "AggregatorConfig.Shards", "is 512, above its limit of 256"},
		{AggregatorConfig{Width: time.Minute, MaxKeyLen: 5000}, "AggregatorConfig.MaxKeyLen", "is 5000, above its limit of 4096"},
		{AggregatorConfig{Width: time.Minute, Alpha: -1}, "AggregatorConfig.Alpha", "is negative (-1)"},
		{AggregatorConfig{Width: time.Minute, Quantiles: make([]float64, 17)}, "len(AggregatorConfig.Quantiles)", "is 17, above its limit of 16"},
		{AggregatorConfig{Width: time.Minute, Quantiles: []float64{0.5, math.NaN()}}, "AggregatorConfig.Quantiles[1]",
			"is NaN: offheap: window: quantiles must be in [0, 1]"},
		{AggregatorConfig{Width: time.Minute, Quantiles: []float64{2}}, "AggregatorConfig.Quantiles[0]", "is 2: "},
		{AggregatorConfig{Width: time.Minute, Quantiles: []float64{-1}}, "AggregatorConfig.Quantiles[0]", "is -1: "},
	} {
		_, err := NewAggregator(c.cfg)
		var e *Error
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &e) || e.Field != c.field || e.Op != "NewAggregator" ||
			!strings.HasPrefix(err.Error(), "NewAggregator: offheap: invalid configuration: "+c.field+" "+c.want) {
			t.Errorf("NewAggregator(%+v) = %v, want ErrInvalidConfig naming %s: %s", c.cfg, err, c.field, c.want)
			continue
		}
		goNamesOnly(t, err)
	}
}
