package offheap

import "os"

// subsystemSentinel maps the status codes of the subsystems (headers 100-199, relay 200-299,
// window 300-399) to their sentinels; nil for an unknown status. Each subsystem adds its cases.
func subsystemSentinel(status uint32) error {
	switch {
	case status >= 200 && status < 300:
		return relaySentinel(status)
	case status >= 300 && status < 400:
		return windowSentinel(status)
	case status >= 100 && status < 200:
		return headersSentinel(status)
	default:
		return nil
	}
}

// relaySentinel maps the relay's status codes (200-299, src/ffi/status.rs).
func relaySentinel(status uint32) error {
	switch status {
	case 200:
		return ErrUnexpectedEOF
	case 201:
		return ErrConnectionReset
	case 202:
		return ErrBrokenPipe
	case 203:
		return ErrClosed
	case 204:
		return ErrRelayIO
	case 205, 206, 207, 208, 209:
		return ErrBadChunk
	case 210:
		return ErrInvalidArgument
	case 211:
		return ErrCanceled
	case 212:
		return ErrOutOfMemory
	case 213:
		return os.ErrDeadlineExceeded
	}
	return nil
}
