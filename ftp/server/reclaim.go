package server

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
)

// maxReclaimDepth bounds the walk: a corrupt back end must not make opening a server take forever.
const maxReclaimDepth = 256

// ReclaimTempFiles removes the upload temporary files a previous server left behind (killed in the
// middle of a STOR, or a directory renamed under an upload) anywhere in fsys, and logs each one.
// It must run before any session can start an upload: Serve calls it once per Server. Each name it
// removes was, by construction, never acknowledged to a client. It returns how many it removed.
// It assumes what Serve assumes: one running Server per file system (fsimage's image lock makes
// that so for image files), since another server's upload in progress would look stale.
func ReclaimTempFiles(fsys FileSystem, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := 0
	var errs []error
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		if depth > maxReclaimDepth {
			errs = append(errs, fmt.Errorf("%s: nested more than %d deep; not searched for temporary files", dir, maxReclaimDepth))
			return
		}
		ents, err := fsys.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("search %s for temporary files: %w", dir, err))
			return
		}
		for _, e := range ents {
			name := path.Join(dir, e.Name())
			if isTempName(e.Name()) {
				if err := fsys.Remove(name); err != nil {
					errs = append(errs, fmt.Errorf("remove stale temporary file %s: %w", name, err))
					continue
				}
				n++
				log.Warn("ftp: removed a stale upload temporary file (an upload was interrupted before it completed)", "name", "/"+name)
				continue
			}
			if e.IsDir() { // a symbolic link is not a directory here, so links are not followed
				walk(name, depth+1)
			}
		}
	}
	walk(".", 0)
	if n > 0 {
		log.Info("ftp: stale upload temporary files removed", "count", n)
	}
	return n, errors.Join(errs...)
}
