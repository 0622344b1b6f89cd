//go:build !linux

package server

import (
	"errors"
	"net"
)

// setCork is Linux only (TCP_CORK); elsewhere responses go out uncorked.
func setCork(c *net.TCPConn, on bool) error { return errors.ErrUnsupported }
