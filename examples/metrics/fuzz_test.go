package main

import "testing"

// FuzzLines checks the line parser against the reference on any body: it must not panic and
// must keep exactly the samples the reference keeps.
func FuzzLines(f *testing.F) {
	for _, s := range []string{
		"", "a 1", "a 1 2\n", "# c\n\nb{x=\"y\"} -1.5e3 1700000000000\r\n",
		"a{b=\"c\\\"\\\\\\n\",d=\"\"} NaN\n", "a{b=\"1\",b=\"2\"} 1", "a{quantile=\"1\"} 1", "a +Inf -5\n",
		"a{b=\"\\x\"} 1", "a{b=\"c} 1", "a 0x1p3", "a 1_0", "\ta\t.5\t", "a{} 1", "a{,} 1", "a{b=\"\xff\"} 1",
		"a 1 9223372036855", ":a 1e400",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parseBoth(t, "lines", body, testLimits)
	})
}

// FuzzJSON checks the JSON parser against encoding/json and the reference on any body.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{"series":"a","value":1}]`, `[{"series":"a{b=\"c\"}","value":-1.5e3,"ts":1700000000000}]`,
		`[{"value":1,"series":"a","series":"b"}]`, `[1,null,"x",[],{}]`, `[{"series":"\ud83d\ude00","value":1}]`,
		`[{"series":"a\ud800","value":1}]`, `[{"series":"a","value":1e400}]`, `[{"series":"a","value":1,"ts":1.0}]`,
		`[{"series":"a","value":1,"x":{"y":[true,false,null]}}]`, `[{"series":"a","value":01}]`, `[`, `{}`,
		`[{"series":"a` + "\xff" + `","value":1}]`, `[{"ser\u0069es":"a","value":1}]`, ` [ ] `, `[{"series":"a","value":-0}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parseBoth(t, "json", body, testLimits)
	})
}
