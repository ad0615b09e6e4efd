//go:build !cgo

package offheap

func headersParse(bool, []byte, []uint32, *headersConfig, []headRecord, []headerRecord) (int, int, uint32) {
	return 0, 0, statusUnavailable
}

func headersRewriteRequest([]byte, *headRecord, []headerRecord, []byte, *rewriteOptions, []byte) (int, uint32) {
	return 0, statusUnavailable
}

func headersRewriteResponse([]byte, *headRecord, []headerRecord, string, []byte) (int, uint32) {
	return 0, statusUnavailable
}
