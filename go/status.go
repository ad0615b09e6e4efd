package offheap

import "os"

// The library's status codes (offheap_status in include/offheap.h), named once for both
// builds; status_cgo.go pins every value to the header at compile time. What each means is
// the library's message (statusMessage): the package does not restate it.
const (
	statusOK                = 0
	statusPanic             = 1
	statusInvalidHandle     = 2
	statusNullPointer       = 3
	statusInvalidArgument   = 4
	statusMisalignedPointer = 5
	statusTooLarge          = 6
	statusPoisoned          = 7
	statusHandleTableFull   = 8
	statusBufferTooSmall    = 9
	statusOutOfMemory       = 10

	statusHeadersIncomplete                        = 100
	statusHeadersHeadTooLarge                      = 101
	statusHeadersTooManyHeaders                    = 102
	statusHeadersMethod                            = 103
	statusHeadersTarget                            = 104
	statusHeadersTargetForm                        = 105
	statusHeadersVersion                           = 106
	statusHeadersBareCR                            = 107
	statusHeadersBareLF                            = 108
	statusHeadersHeaderName                        = 109
	statusHeadersWhitespaceBeforeColon             = 110
	statusHeadersObsFold                           = 111
	statusHeadersHeaderValue                       = 112
	statusHeadersStatus                            = 113
	statusHeadersContentLengthInvalid              = 114
	statusHeadersContentLengthRepeated             = 115
	statusHeadersContentLengthWithTransferEncoding = 116
	statusHeadersChunkedNotLast                    = 117
	statusHeadersTransferEncodingInvalid           = 118
	statusHeadersTransferEncodingHTTP10            = 119
	statusHeadersHostMissing                       = 120
	statusHeadersHostRepeated                      = 121
	statusHeadersHostInvalid                       = 122

	statusRelayUnexpectedEOF         = 200
	statusRelayConnectionReset       = 201
	statusRelayBrokenPipe            = 202
	statusRelayBadFd                 = 203
	statusRelayIO                    = 204
	statusRelayChunkSizeOverflow     = 205
	statusRelayChunkSizeInvalid      = 206
	statusRelayChunkMissingCRLF      = 207
	statusRelayChunkExtensionInvalid = 208
	statusRelayTrailersInvalid       = 209
	statusRelayUnsupported           = 210
	statusRelayCanceled              = 211
	statusRelayResourceExhausted     = 212
	statusRelayTimedOut              = 213

	statusWindowInvalidWidth       = 300
	statusWindowInvalidSlices      = 301
	statusWindowInvalidAlpha       = 302
	statusWindowInvalidBuckets     = 303
	statusWindowInvalidSeriesCap   = 304
	statusWindowInvalidShards      = 305
	statusWindowInvalidFutureSkew  = 306
	statusWindowInvalidKeyLimit    = 307
	statusWindowInvalidName        = 308
	statusWindowInvalidMode        = 309
	statusWindowLengthMismatch     = 310
	statusWindowBadOffsets         = 311
	statusWindowInvalidQuantile    = 312
	statusWindowUnknownSeries      = 313
	statusWindowBadState           = 314
	statusWindowUnsupportedVersion = 315
	statusWindowIncompatibleState  = 316

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
		statusWindowBadOffsets, statusWindowInvalidQuantile:
		return ErrInvalidArgument
	case statusTooLarge, statusHeadersHeadTooLarge, statusHeadersTooManyHeaders:
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
		statusWindowInvalidMode:
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
