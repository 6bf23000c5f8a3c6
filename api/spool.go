package api

import (
	"bytes"
	"io"
	"os"
)

// spoolMemory is how much a spoolWriter keeps in memory before it moves
// to a temporary file.
const spoolMemory = 4 << 20

// spoolWriter holds a response body being built: in memory while small,
// in a temporary file beyond spoolMemory.
type spoolWriter struct {
	mem  bytes.Buffer
	file *os.File
	size int64
}

func (s *spoolWriter) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) > spoolMemory {
		f, err := os.CreateTemp("", "vitrine-spool-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // gone once closed
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			f.Close()
			return 0, err
		}
		s.mem = bytes.Buffer{}
		s.file = f
	}
	s.size += int64(len(p))
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.mem.Write(p)
}

// Size is the number of bytes written.
func (s *spoolWriter) Size() int64 { return s.size }

// CopyTo writes what was spooled to w.
func (s *spoolWriter) CopyTo(w io.Writer) error {
	if s.file == nil {
		_, err := w.Write(s.mem.Bytes())
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

// Close releases the temporary file.
func (s *spoolWriter) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
