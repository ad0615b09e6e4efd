package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"

	offheap "github.com/offheap/offheap/go"
)

// The heads workload: o.heads HTTP/1.1 request heads, from a corpus of varied heads
// (browsers, API clients, health checks) concatenated as on a keep-alive connection and parsed
// pass after pass. Both runs read the method, the target and the Host and User-Agent headers
// of every head, and check the same totals.

const corpusHeads = 4096

func headsCorpus() []byte {
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"curl/8.5.0",
		"Go-http-client/1.1",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	}
	var b bytes.Buffer
	for i := range corpusHeads {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "GET /static/app.%d.js HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\n"+
				"Accept: */*\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"+
				"Cookie: session=%016x; theme=dark\r\nReferer: https://shop.example.com/\r\nConnection: keep-alive\r\n\r\n",
				i, agents[i%len(agents)], uint64(i)*0x9E3779B97F4A7C15)
		case 1:
			fmt.Fprintf(&b, "GET /api/v1/items?page=%d&limit=50 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: %s\r\n"+
				"Accept: application/json\r\nAuthorization: Bearer %032x\r\nX-Request-Id: %d\r\n\r\n",
				i, agents[i%len(agents)], uint64(i)*7919, i)
		case 2:
			fmt.Fprintf(&b, "GET /healthz HTTP/1.1\r\nHost: 10.0.0.%d:8080\r\nUser-Agent: kube-probe/1.30\r\nAccept: */*\r\n\r\n", i%250)
		default:
			fmt.Fprintf(&b, "DELETE /api/v1/items/%d HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: %s\r\n"+
				"Content-Length: 0\r\nX-Forwarded-For: 203.0.113.%d\r\n\r\n", i, agents[i%len(agents)], i%250)
		}
	}
	return b.Bytes()
}

func headsWorkload(o options) workload {
	corpus := headsCorpus()
	check := func(heads int, bytes int) string {
		return fmt.Sprintf("%d heads, %d bytes of method+target+Host+User-Agent", heads, bytes)
	}
	title := fmt.Sprintf("heads: %d HTTP/1.1 request heads (%d-head corpus of %d KiB, parsed pass after pass)",
		o.heads, corpusHeads, len(corpus)>>10)
	return workload{
		name:  "heads",
		title: title,
		unit:  "heads",
		pure: func() (result, error) {
			var heads, n int
			for heads < o.heads {
				br := bufio.NewReader(bytes.NewReader(corpus))
				for heads < o.heads {
					req, err := http.ReadRequest(br)
					if err == io.EOF {
						break
					}
					if err != nil {
						return result{}, err
					}
					n += len(req.Method) + len(req.RequestURI) + len(req.Host) + len(req.Header.Get("User-Agent"))
					heads++
				}
			}
			return result{amount: float64(heads), check: check(heads, n)}, nil
		},
		off: func() (result, error) {
			b := offheap.NewRequestBatch(o.batchHeads)
			var heads, n int
			for heads < o.heads {
				in := corpus
				for len(in) > 0 && heads < o.heads {
					consumed, err := b.Parse(in)
					if err != nil {
						return result{}, err
					}
					for i := range b.Len() {
						if heads == o.heads {
							break
						}
						if err := b.Err(i); err != nil {
							return result{}, err
						}
						n += len(b.Method(i)) + len(b.Target(i)) + len(b.Header(i, "Host")) + len(b.Header(i, "User-Agent"))
						heads++
					}
					if consumed == 0 {
						return result{}, fmt.Errorf("no progress at byte %d", len(corpus)-len(in))
					}
					in = in[consumed:]
				}
			}
			return result{amount: float64(heads), check: check(heads, n)}, nil
		},
	}
}
