package link

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Attachment is what a link endpoint keeps for Attach, IsAttached and SetOnCloseAction of
// stack.LinkEndpoint: the dispatcher it delivers to and the action its Close runs, under one lock.
// This package's Endpoint and vxlan's hold one each.
type Attachment struct {
	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	onClose    func()
}

// Attach attaches d (nil detaches) and returns the dispatcher it replaces.
func (a *Attachment) Attach(d stack.NetworkDispatcher) (was stack.NetworkDispatcher) {
	a.mu.Lock()
	defer a.mu.Unlock()
	was, a.dispatcher = a.dispatcher, d
	return was
}

// IsAttached reports whether a dispatcher is attached.
func (a *Attachment) IsAttached() bool { return a.Dispatcher() != nil }

// Dispatcher returns the attached dispatcher, nil if none.
func (a *Attachment) Dispatcher() stack.NetworkDispatcher {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.dispatcher
}

// SetOnCloseAction sets the action Detach hands back.
func (a *Attachment) SetOnCloseAction(action func()) {
	a.mu.Lock()
	a.onClose = action
	a.mu.Unlock()
}

// Detach detaches and returns the on-close action (nil if none was set), for Close to run.
func (a *Attachment) Detach() (onClose func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dispatcher = nil
	return a.onClose
}
