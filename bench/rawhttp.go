package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RawClient sends requests byte for byte as written, over one keep-alive
// connection: the request target is not cleaned or re-escaped (needed to
// send "../" and "%2e%2e%2f" paths as an attacker would), and any header or
// body can be sent.
type RawClient struct {
	Addr string // host:port
	conn net.Conn
	br   *bufio.Reader
}

// Close drops the connection.
func (c *RawClient) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// Do sends one request. hdr are name, value pairs; Content-Length is added
// when body is not nil.
func (c *RawClient) Do(method, target string, hdr [][2]string, body []byte) (*Resp, error) {
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, c.Addr)
	for _, h := range hdr {
		fmt.Fprintf(&req, "%s: %s\r\n", h[0], h[1])
	}
	if body != nil {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		if c.conn == nil {
			conn, err := net.DialTimeout("tcp", c.Addr, 5*time.Second)
			if err != nil {
				return nil, err
			}
			c.conn, c.br = conn, bufio.NewReader(conn)
		}
		c.conn.SetDeadline(time.Now().Add(60 * time.Second))
		// Write while reading: a server may answer (413, 400) before it has
		// read a large body.
		werr := make(chan error, 1)
		payload := req.Bytes()
		conn := c.conn
		go func() {
			_, err := conn.Write(payload)
			werr <- err
		}()
		res, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			c.Close()
			<-werr
			lastErr = err
			if attempt == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				continue // the server closed an idle connection: send again
			}
			return nil, err
		}
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Close || rerr != nil {
			c.Close()
		}
		if err := <-werr; err != nil {
			c.Close() // answered before reading all we sent
		}
		if rerr != nil {
			return nil, rerr
		}
		return decodeResp(res.StatusCode, res.Header, b), nil
	}
	return nil, lastErr
}
