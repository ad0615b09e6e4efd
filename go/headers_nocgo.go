//go:build !cgo

package offheap

func (h *heads) parse(string, bool, bool, []byte, []uint32) error { return initErr }

func (b *RequestBatch) rewriteRequest(dst []byte, _ int, _ *RewriteOptions) ([]byte, error) {
	return dst, initErr
}

func (b *ResponseBatch) rewriteResponse(dst []byte, _ int, _ string) ([]byte, error) {
	return dst, initErr
}
