package offheap

// subsystemSentinel maps the status codes of the subsystems (headers 100-199, relay 200-299,
// window 300-399) to their sentinels; nil for an unknown status. Each subsystem adds its cases.
func subsystemSentinel(status uint32) error {
	switch {
	case status >= 100 && status < 200:
		return headersSentinel(status)
	default:
		return nil
	}
}
