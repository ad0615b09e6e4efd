// Package promparse checks offheap's Prometheus exposition with the parsers scrapers use:
// every exposition its tests produce, in every format (text 0.0.4, OpenMetrics 1.0, protobuf),
// is decoded by github.com/prometheus/common/expfmt and compared with what was ingested, and
// the text ones are written to $PROMPARSE_OUT for the Python prometheus_client parser
// (parse.py, run by `make test` after these tests). It is a module of its own so that the
// offheap package keeps no third-party dependency.
package promparse
