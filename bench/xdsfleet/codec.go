package main

// Reading responses the way a simulated proxy needs them. A push sends every proxy its route table (tens of KiB),
// and the generated codec copied each one twice (into one buffer, then into every Any's value) into memory that
// Go and gRPC's pool had zeroed first: most of the fleet's CPU, on the cores the control service is measured on.
// Here a response is read field by field straight from gRPC's buffers (one per HTTP/2 frame, not joined); only
// CDS and LDS resources, whose contents the fleet follows (EDS, RDS and ECDS names), are copied out. Requests are
// still written by the generated codec.

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// resource is one google.protobuf.Any of a response: its size, and its value when the fleet reads it.
type resource struct {
	name  string // delta responses only
	size  int
	value []byte
}

// response is a DiscoveryResponse or a DeltaDiscoveryResponse as far as the fleet reads it.
type response struct {
	version, typeURL, nonce string
	resources               []resource
	removed                 []string
	delta                   bool
}

// bytes: the resources' total size.
func (r *response) bytes() int {
	total := 0
	for _, item := range r.resources {
		total += item.size
	}
	return total
}

// follows: the types whose resources the fleet decodes to learn what else to subscribe to.
func follows(typeURL string) bool {
	return typeURL == typeCluster || typeURL == typeListener
}

// cursor reads a message spread over gRPC's buffers (one per HTTP/2 frame) without joining them.
type cursor struct {
	buffers [][]byte
	index   int // the buffer being read
	offset  int // within it
	read    int // bytes consumed in all
}

func newCursor(data mem.BufferSlice) *cursor {
	buffers := make([][]byte, 0, len(data))
	for _, buffer := range data {
		buffers = append(buffers, buffer.ReadOnlyData())
	}
	return &cursor{buffers: buffers}
}

var errTruncated = errors.New("truncated message")

// current: the unread part of the current buffer (empty only at the end).
func (c *cursor) current() []byte {
	for c.index < len(c.buffers) && c.offset == len(c.buffers[c.index]) {
		c.index, c.offset = c.index+1, 0
	}
	if c.index == len(c.buffers) {
		return nil
	}
	return c.buffers[c.index][c.offset:]
}

func (c *cursor) varint() (uint64, error) {
	var value uint64
	for shift := uint(0); shift < 64; shift += 7 {
		rest := c.current()
		if len(rest) == 0 {
			return 0, errTruncated
		}
		b := rest[0]
		c.offset, c.read = c.offset+1, c.read+1
		value |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return value, nil
		}
	}
	return 0, errors.New("varint overflow")
}

// bytes: the next n bytes, copied (they may span buffers, and gRPC reuses its buffers).
func (c *cursor) bytes(n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		rest := c.current()
		if len(rest) == 0 {
			return nil, errTruncated
		}
		take := min(n-len(out), len(rest))
		out = append(out, rest[:take]...)
		c.offset, c.read = c.offset+take, c.read+take
	}
	return out, nil
}

func (c *cursor) skip(n int) error {
	for n > 0 {
		rest := c.current()
		if len(rest) == 0 {
			return errTruncated
		}
		take := min(n, len(rest))
		c.offset, c.read, n = c.offset+take, c.read+take, n-take
	}
	return nil
}

// fields reads the fields of a message of the given length (to the end when negative), handing each
// length-delimited one's number and length to visit, which must consume exactly that many bytes.
func (c *cursor) fields(length int, visit func(number protowire.Number, length int) error) error {
	end := c.read + length
	for length < 0 || c.read < end {
		if length < 0 && len(c.current()) == 0 {
			return nil
		}
		tag, err := c.varint()
		if err != nil {
			return err
		}
		number, wireType := protowire.DecodeTag(tag)
		switch wireType {
		case protowire.VarintType:
			_, err = c.varint()
		case protowire.Fixed64Type:
			err = c.skip(8)
		case protowire.Fixed32Type:
			err = c.skip(4)
		case protowire.BytesType:
			var size uint64
			if size, err = c.varint(); err == nil {
				err = visit(number, int(size))
			}
		default:
			err = fmt.Errorf("unexpected wire type %d", wireType)
		}
		if err != nil {
			return err
		}
	}
	if c.read != end {
		return errTruncated
	}
	return nil
}

func (c *cursor) text(n int) (string, error) {
	b, err := c.bytes(n)
	return string(b), err
}

// anyValue reads a google.protobuf.Any (value = 2): its value's size, and the value itself when kept.
func (c *cursor) anyValue(length int, keep bool, item *resource) error {
	return c.fields(length, func(number protowire.Number, n int) error {
		if number != 2 {
			return c.skip(n)
		}
		item.size = n
		if !keep {
			return c.skip(n)
		}
		value, err := c.bytes(n)
		item.value = value
		return err
	})
}

// read fills the response from its encoding: SotW version_info = 1, resources = 2 (Any), type_url = 4, nonce = 5;
// delta system_version_info = 1, resources = 2 (Resource: resource = 2, name = 3), type_url = 4, nonce = 5,
// removed_resources = 6.
func (r *response) read(data mem.BufferSlice) error {
	r.version, r.typeURL, r.nonce = "", "", ""
	r.resources, r.removed = r.resources[:0], r.removed[:0]
	// The type decides which values are kept, and nothing orders the fields: find it first.
	c := newCursor(data)
	if err := c.fields(-1, func(number protowire.Number, n int) (err error) {
		if number == 4 {
			r.typeURL, err = c.text(n)
			return err
		}
		return c.skip(n)
	}); err != nil {
		return err
	}
	keep := follows(r.typeURL)
	c = newCursor(data)
	return c.fields(-1, func(number protowire.Number, n int) (err error) {
		switch number {
		case 1:
			r.version, err = c.text(n)
		case 5:
			r.nonce, err = c.text(n)
		case 6:
			var name string
			name, err = c.text(n)
			r.removed = append(r.removed, name)
		case 2:
			item := resource{}
			if r.delta {
				err = c.fields(n, func(number protowire.Number, n int) (err error) {
					switch number {
					case 2:
						return c.anyValue(n, keep, &item)
					case 3:
						item.name, err = c.text(n)
						return err
					}
					return c.skip(n)
				})
			} else {
				err = c.anyValue(n, keep, &item)
			}
			r.resources = append(r.resources, item)
		default:
			err = c.skip(n)
		}
		return err
	})
}

// codec reads responses as above and leaves everything else to gRPC's protobuf codec.
type codec struct{ proto encoding.CodecV2 }

func newCodec() codec { return codec{proto: encoding.GetCodecV2("proto")} }

func (c codec) Name() string { return "proto" }

func (c codec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*response)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	if err := r.read(data); err != nil {
		return fmt.Errorf("reading a response: %w", err)
	}
	return nil
}

// dirtyPool is gRPC's buffer pool without the zeroing: gRPC writes every byte of a buffer it reads into before it
// reads it, and clearing each 16 KiB frame buffer first was a fifth of the fleet's CPU.
type dirtyPool struct{ tiers [64]sync.Pool }

func (p *dirtyPool) Get(length int) *[]byte {
	tier := 0
	if length > 1 {
		tier = bits.Len(uint(length - 1))
	}
	if buffer, ok := p.tiers[tier].Get().(*[]byte); ok {
		*buffer = (*buffer)[:length]
		return buffer
	}
	buffer := make([]byte, length, 1<<tier)
	return &buffer
}

func (p *dirtyPool) Put(buffer *[]byte) {
	if capacity := cap(*buffer); capacity > 0 {
		p.tiers[bits.Len(uint(capacity))-1].Put(buffer)
	}
}
