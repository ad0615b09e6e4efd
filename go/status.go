package offheap

import "os"

// The library's status codes are the generated constants statusOK, statusPanic, ... of
// abi_gen.go (offheap_status in include/offheap.h), named once for both builds. What each
// means is the library's message (statusMessage): the package does not restate it.
const (
	// statusUnavailable is no status of the library (which never uses the top of the range):
	// the functions of the !cgo build return it, and statusError makes it [ErrUnavailable].
	statusUnavailable = 1<<32 - 1
)

// statusError maps a status other than statusOK to an [*Error] for op, wrapping the sentinel
// the status belongs to.
func statusError(op string, st uint32) error {
	if st == statusUnavailable {
		return ErrUnavailable
	}
	return &Error{Op: op, Status: st, Err: sentinelOf(st)}
}

// sentinelOf returns the sentinel a status matches with errors.Is; [ErrInternal] for a
// status this package does not name.
func sentinelOf(st uint32) error {
	switch st {
	case statusPanic:
		return ErrPanic
	case statusInvalidHandle:
		return ErrClosed
	case statusNullPointer, statusInvalidArgument, statusMisalignedPointer, statusRelayUnsupported,
		statusWindowBadOffsets, statusWindowInvalidQuantile, statusWindowNotBegun, statusWindowInvalidFormat:
		return ErrInvalidArgument
	case statusTooLarge, statusHeadersHeadTooLarge, statusHeadersTooManyHeaders, statusWindowTooManyFamilies:
		return ErrTooLarge
	case statusPoisoned:
		return ErrPoisoned
	case statusBufferTooSmall:
		return ErrBufferTooSmall
	case statusOutOfMemory, statusHandleTableFull, statusRelayResourceExhausted:
		return ErrOutOfMemory
	case statusHeadersIncomplete:
		return ErrIncomplete
	case statusHeadersMethod, statusHeadersTarget, statusHeadersTargetForm, statusHeadersVersion,
		statusHeadersBareCR, statusHeadersBareLF, statusHeadersHeaderName,
		statusHeadersWhitespaceBeforeColon, statusHeadersObsFold, statusHeadersHeaderValue,
		statusHeadersStatus, statusHeadersContentLengthInvalid, statusHeadersContentLengthRepeated,
		statusHeadersContentLengthWithTransferEncoding, statusHeadersChunkedNotLast,
		statusHeadersTransferEncodingInvalid, statusHeadersTransferEncodingHTTP10,
		statusHeadersHostMissing, statusHeadersHostRepeated, statusHeadersHostInvalid:
		return ErrMalformed
	case statusRelayUnexpectedEOF:
		return ErrUnexpectedEOF
	case statusRelayConnectionReset:
		return ErrConnectionReset
	case statusRelayBrokenPipe:
		return ErrBrokenPipe
	case statusRelayBadFd:
		return ErrConnClosed
	case statusRelayIO:
		return ErrRelayIO
	case statusRelayChunkSizeOverflow, statusRelayChunkSizeInvalid, statusRelayChunkMissingCRLF,
		statusRelayChunkExtensionInvalid, statusRelayTrailersInvalid:
		return ErrBadChunk
	case statusRelayCanceled:
		return ErrCanceled
	case statusRelayTimedOut:
		return os.ErrDeadlineExceeded
	case statusWindowInvalidWidth, statusWindowInvalidSlices, statusWindowInvalidAlpha,
		statusWindowInvalidBuckets, statusWindowInvalidSeriesCap, statusWindowInvalidShards,
		statusWindowInvalidFutureSkew, statusWindowInvalidKeyLimit, statusWindowInvalidName,
		statusWindowInvalidMode, statusWindowInvalidHelp, statusWindowInvalidKeyLabel, statusWindowInvalidType,
		statusWindowInvalidKeyFormat:
		return ErrInvalidConfig
	case statusWindowLengthMismatch:
		return ErrLengthMismatch
	case statusWindowUnknownSeries:
		return ErrUnknownSeries
	case statusWindowBadState, statusWindowUnsupportedVersion, statusWindowIncompatibleState:
		return ErrBadState
	}
	return ErrInternal
}
