//go:build cgo

package offheap

/*
#cgo nocallback offheap_status_str
#include "offheap.h"
*/
import "C"

// Every status status.go names has the header's value.
var (
	_ equal = [C.OFFHEAP_STATUS_OK - statusOK]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_PANIC - statusPanic]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_INVALID_HANDLE - statusInvalidHandle]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_NULL_POINTER - statusNullPointer]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_INVALID_ARGUMENT - statusInvalidArgument]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_MISALIGNED_POINTER - statusMisalignedPointer]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_TOO_LARGE - statusTooLarge]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_POISONED - statusPoisoned]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HANDLE_TABLE_FULL - statusHandleTableFull]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_BUFFER_TOO_SMALL - statusBufferTooSmall]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_OUT_OF_MEMORY - statusOutOfMemory]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_INCOMPLETE - statusHeadersIncomplete]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HEAD_TOO_LARGE - statusHeadersHeadTooLarge]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_TOO_MANY_HEADERS - statusHeadersTooManyHeaders]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_METHOD - statusHeadersMethod]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_TARGET - statusHeadersTarget]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_TARGET_FORM - statusHeadersTargetForm]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_VERSION - statusHeadersVersion]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_BARE_CR - statusHeadersBareCR]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_BARE_LF - statusHeadersBareLF]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HEADER_NAME - statusHeadersHeaderName]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_WHITESPACE_BEFORE_COLON - statusHeadersWhitespaceBeforeColon]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_OBS_FOLD - statusHeadersObsFold]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HEADER_VALUE - statusHeadersHeaderValue]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_STATUS - statusHeadersStatus]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_CONTENT_LENGTH_INVALID - statusHeadersContentLengthInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_CONTENT_LENGTH_REPEATED - statusHeadersContentLengthRepeated]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_CONTENT_LENGTH_WITH_TRANSFER_ENCODING - statusHeadersContentLengthWithTransferEncoding]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_CHUNKED_NOT_LAST - statusHeadersChunkedNotLast]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_TRANSFER_ENCODING_INVALID - statusHeadersTransferEncodingInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_TRANSFER_ENCODING_HTTP10 - statusHeadersTransferEncodingHTTP10]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HOST_MISSING - statusHeadersHostMissing]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HOST_REPEATED - statusHeadersHostRepeated]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_HEADERS_HOST_INVALID - statusHeadersHostInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_UNEXPECTED_EOF - statusRelayUnexpectedEOF]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CONNECTION_RESET - statusRelayConnectionReset]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_BROKEN_PIPE - statusRelayBrokenPipe]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_BAD_FD - statusRelayBadFd]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_IO - statusRelayIO]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CHUNK_SIZE_OVERFLOW - statusRelayChunkSizeOverflow]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CHUNK_SIZE_INVALID - statusRelayChunkSizeInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CHUNK_MISSING_CRLF - statusRelayChunkMissingCRLF]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CHUNK_EXTENSION_INVALID - statusRelayChunkExtensionInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_TRAILERS_INVALID - statusRelayTrailersInvalid]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_UNSUPPORTED - statusRelayUnsupported]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_CANCELED - statusRelayCanceled]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_RESOURCE_EXHAUSTED - statusRelayResourceExhausted]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_RELAY_TIMED_OUT - statusRelayTimedOut]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_WIDTH - statusWindowInvalidWidth]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_SLICES - statusWindowInvalidSlices]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_ALPHA - statusWindowInvalidAlpha]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_BUCKETS - statusWindowInvalidBuckets]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_SERIES_CAP - statusWindowInvalidSeriesCap]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_SHARDS - statusWindowInvalidShards]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_FUTURE_SKEW - statusWindowInvalidFutureSkew]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_KEY_LIMIT - statusWindowInvalidKeyLimit]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_NAME - statusWindowInvalidName]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_MODE - statusWindowInvalidMode]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_LENGTH_MISMATCH - statusWindowLengthMismatch]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_BAD_OFFSETS - statusWindowBadOffsets]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INVALID_QUANTILE - statusWindowInvalidQuantile]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_UNKNOWN_SERIES - statusWindowUnknownSeries]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_BAD_STATE - statusWindowBadState]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_UNSUPPORTED_VERSION - statusWindowUnsupportedVersion]struct{}{}
	_ equal = [C.OFFHEAP_STATUS_WINDOW_INCOMPATIBLE_STATE - statusWindowIncompatibleState]struct{}{}
)

// statusMessage returns the library's own message for a status (a static string, copied).
func statusMessage(st uint32) string { return C.GoString(C.offheap_status_str(C.uint32_t(st))) }
