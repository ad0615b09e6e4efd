package offheap

import "fmt"

// The library's messages name a refused setting in words ("the maximum future skew spans more
// than 64 slices"), the same for Rust, C and Go callers; the Go layer names the field as Go
// code spells it. These tables map the statuses of one call's inputs to those names.
var (
	// aggregatorConfigFields: the statuses of offheap_aggregator_new, by AggregatorConfig field
	// (MaxKeyLen and Quantiles are checked whole in Go: the library never refuses them).
	aggregatorConfigFields = map[uint32]string{
		statusWindowInvalidMode:       "AggregatorConfig.Mode",
		statusWindowInvalidWidth:      "AggregatorConfig.Width",
		statusWindowInvalidSlices:     "AggregatorConfig.Slices",
		statusWindowInvalidAlpha:      "AggregatorConfig.Alpha",
		statusWindowInvalidBuckets:    "AggregatorConfig.MaxBuckets",
		statusWindowInvalidSeriesCap:  "AggregatorConfig.MaxSeries",
		statusWindowInvalidShards:     "AggregatorConfig.Shards",
		statusWindowInvalidFutureSkew: "AggregatorConfig.MaxFutureSkew",
		statusWindowInvalidName:       "AggregatorConfig.Name",
		statusWindowInvalidHelp:       "AggregatorConfig.Help",
		statusWindowInvalidKeyLabel:   "AggregatorConfig.KeyLabel",
		statusWindowInvalidKeyFormat:  "AggregatorConfig.KeyFormat",
		statusWindowInvalidType:       "AggregatorConfig.MetricType",
	}
	// setFamilyFields: the statuses of offheap_aggregator_set_family, by argument.
	setFamilyFields = map[uint32]string{
		statusWindowInvalidName: "SetFamily's name",
		statusWindowInvalidHelp: "SetFamily's help",
		statusWindowInvalidType: "SetFamily's type",
	}
)

// withField names, in err from a library status, the input at fault: fields[status], when the
// status is about one.
func withField(err error, fields map[uint32]string) error {
	if e, ok := err.(*Error); ok {
		e.Field = fields[e.Status]
	}
	return err
}

// configError is an AggregatorConfig field refused on the Go side (a range the library does
// not see, or sees only after a conversion): ErrInvalidConfig, naming the field.
func configError(field, format string, args ...any) error {
	return &Error{Op: "NewAggregator", Field: field,
		Err: fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))}
}
