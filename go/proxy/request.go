package proxy

import (
	"errors"
	"strings"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/internal/ascii"
)

// Request is a request head on its way to the upstream, as [Config.Rewrite] sees it: already
// rewritten by the proxy (hop-by-hop headers dropped, X-Forwarded-* and Via set). Its
// accessors return views valid during the call; its setters record changes that are applied
// when Rewrite returns. Changes to Content-Length and Transfer-Encoding are ignored: the body
// is relayed as the client framed it.
type Request struct {
	batch *offheap.RequestBatch
	head  []byte

	target    string
	setTarget bool
	sets      []headerEdit
	dels      []string
	out       []byte
}

type headerEdit struct{ name, value string }

// newRequest returns a Request with its parse batch (one per goroutine that runs hooks).
func newRequest(maxHeaderBytes int) *Request {
	b := offheap.NewRequestBatch(1)
	b.Config.MaxHeadLen = uint32(maxHeaderBytes + 64<<10) // the rewrite adds headers
	b.Config.MaxHeaders = 254
	return &Request{batch: b}
}

// Method returns the request's method.
func (r *Request) Method() []byte { return r.batch.Method(0) }

// Target returns the request-target (its path and query, usually).
func (r *Request) Target() []byte { return r.batch.Target(0) }

// Header returns the value of the first header line named name (any case), or nil.
func (r *Request) Header(name string) []byte { return r.batch.Header(0, name) }

// SetTarget replaces the request-target.
func (r *Request) SetTarget(target string) { r.target, r.setTarget = target, true }

// SetHeader replaces every header line named name with one line name: value.
func (r *Request) SetHeader(name, value string) {
	r.sets = append(r.sets, headerEdit{name, value})
}

// DelHeader removes every header line named name.
func (r *Request) DelHeader(name string) { r.dels = append(r.dels, name) }

var errHookHead = errors.New("proxy: the request head given to Rewrite did not parse")

// run calls hook on head and returns the head to send: nil when the hook changed nothing
// (send head as it is). It allocates nothing in steady state beyond what hook does.
func (r *Request) run(hook func(*Request), head []byte) ([]byte, error) {
	r.head, r.setTarget, r.sets, r.dels = head, false, r.sets[:0], r.dels[:0]
	if _, err := r.batch.Parse(head); err != nil || r.batch.Len() == 0 || !r.batch.Complete(0) {
		return nil, errHookHead
	}
	hook(r)
	if !r.setTarget && len(r.sets) == 0 && len(r.dels) == 0 {
		return nil, nil
	}
	out := append(r.out[:0], r.Method()...)
	out = append(out, ' ')
	if r.setTarget {
		out = append(out, r.target...)
	} else {
		out = append(out, r.Target()...)
	}
	out = append(out, " HTTP/1."...)
	out = append(out, byte('0'+r.batch.ProtoMinor(0)))
	out = append(out, "\r\n"...)
	for name, value := range r.batch.All(0) {
		if framing(name) || !r.edited(name) {
			out = appendLine(out, name, value)
		}
	}
	for _, e := range r.sets {
		if !framingString(e.name) {
			out = append(out, e.name...)
			out = append(out, ": "...)
			out = append(out, e.value...)
			out = append(out, "\r\n"...)
		}
	}
	out = append(out, "\r\n"...)
	r.out = out
	return out, nil
}

// edited reports whether header name is set or deleted by the hook.
func (r *Request) edited(name []byte) bool {
	for _, e := range r.sets {
		if ascii.EqualFold(name, e.name) {
			return true
		}
	}
	for _, d := range r.dels {
		if ascii.EqualFold(name, d) {
			return true
		}
	}
	return false
}

func appendLine(out, name, value []byte) []byte {
	out = append(out, name...)
	out = append(out, ": "...)
	out = append(out, value...)
	return append(out, "\r\n"...)
}

func framing(name []byte) bool {
	return ascii.EqualFold(name, "Content-Length") || ascii.EqualFold(name, "Transfer-Encoding")
}

func framingString(name string) bool {
	return strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding")
}
