package offheap

// steps runs a Copy over connections with file descriptors: one library step per readiness
// event of the relay's poller, until the body is done or a wait fails.
func (r *Relay) steps(op string) (RelayStats, error) {
	r.status = statusOK
	*r.prog = relayProgress{}
	var ioErr error
	for r.status == statusOK && r.prog.state != relayStateDone {
		ioErr = r.p.raw.Read(r.onReady)
		if ioErr == nil {
			continue
		}
		if r.woken.Load() || r.h.closed() || !r.check.tick(ioErr, &r.mu, &r.deadline) {
			break
		}
		// A look for connections the caller closed (their fds report no event).
		ioErr = nil
		if connClosed(r.src.orig) || connClosed(r.dst.orig) {
			r.status = statusRelayBadFd
			break
		}
		r.check.arm(&r.p, &r.mu, &r.deadline, &r.woken)
	}
	r.check.done(&r.p, &r.mu, &r.deadline, &r.woken)
	if ioErr == nil && r.status != statusOK {
		ioErr = statusError(op, r.status)
	}
	return r.prog.stats, ioErr
}

// ready runs inside the poller's RawConn.Read: at once, then after each event of a watched fd.
// It steps with both connections' fds, each held open by its RawConn.Control meanwhile; a
// connection the caller closed ends the relay. It returns false to wait for the next event.
func (r *Relay) ready(uintptr) bool {
	if err := r.src.orig.Control(r.withSrc); err != nil {
		r.status = statusRelayBadFd
	}
	done := r.status != statusOK || (r.prog.state != relayStateWantRead && r.prog.state != relayStateWantWrite)
	if !done && !r.check.armed {
		r.check.arm(&r.p, &r.mu, &r.deadline, &r.woken)
	}
	return done
}

func (r *Relay) stepWithSrc(fd uintptr) {
	r.srcFd = fd
	if err := r.dst.orig.Control(r.step); err != nil {
		r.status = statusRelayBadFd
	}
}

func (r *Relay) stepWithDst(dstFd uintptr) {
	r.status = relayStep(r.id, int32(r.srcFd), int32(dstFd), r.prog)
}
