package main

// Reading responses the way a simulated proxy needs them. A push sends every proxy its route table (tens of KiB),
// and the generated codec copied each one twice (into one buffer, then into every Any's value) into memory that
// Go and gRPC's pool had zeroed first: most of the fleet's CPU, on the cores the control service is measured on.
// Here a response is read field by field straight from gRPC's buffers; only CDS and LDS resources, whose contents
// the fleet follows (EDS, RDS and ECDS names), are copied out. Requests are still written by the generated codec.

import (
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
	// The message's bytes when gRPC hands them over in several buffers; reused from one response to the next.
	scratch []byte
	delta   bool
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

// fields calls visit for each field of a message; visit gets length-delimited contents, other types are skipped.
func fields(message []byte, visit func(number protowire.Number, contents []byte) error) error {
	for len(message) > 0 {
		number, wireType, length := protowire.ConsumeTag(message)
		if length < 0 {
			return protowire.ParseError(length)
		}
		message = message[length:]
		if wireType != protowire.BytesType {
			length = protowire.ConsumeFieldValue(number, wireType, message)
			if length < 0 {
				return protowire.ParseError(length)
			}
			message = message[length:]
			continue
		}
		contents, length := protowire.ConsumeBytes(message)
		if length < 0 {
			return protowire.ParseError(length)
		}
		message = message[length:]
		if err := visit(number, contents); err != nil {
			return err
		}
	}
	return nil
}

// anyValue: an Any's value (field 2), as a view into the message.
func anyValue(message []byte) ([]byte, error) {
	var value []byte
	err := fields(message, func(number protowire.Number, contents []byte) error {
		if number == 2 {
			value = contents
		}
		return nil
	})
	return value, err
}

// read fills the response from its encoding: SotW version_info = 1, resources = 2 (Any), type_url = 4, nonce = 5;
// delta system_version_info = 1, resources = 2 (Resource: resource = 2, name = 3), type_url = 4, nonce = 5,
// removed_resources = 6.
func (r *response) read(message []byte) error {
	r.version, r.typeURL, r.nonce = "", "", ""
	r.resources, r.removed = r.resources[:0], r.removed[:0]
	// The type decides which values are kept, and nothing orders the fields: find it first.
	if err := fields(message, func(number protowire.Number, contents []byte) error {
		if number == 4 {
			r.typeURL = string(contents)
		}
		return nil
	}); err != nil {
		return err
	}
	keep := follows(r.typeURL)
	return fields(message, func(number protowire.Number, contents []byte) error {
		switch number {
		case 1:
			r.version = string(contents)
		case 5:
			r.nonce = string(contents)
		case 6:
			r.removed = append(r.removed, string(contents))
		case 2:
			item := resource{}
			anyMessage := contents
			if r.delta {
				anyMessage = nil
				if err := fields(contents, func(number protowire.Number, contents []byte) error {
					switch number {
					case 2:
						anyMessage = contents
					case 3:
						item.name = string(contents)
					}
					return nil
				}); err != nil {
					return err
				}
			}
			if anyMessage != nil {
				value, err := anyValue(anyMessage)
				if err != nil {
					return err
				}
				item.size = len(value)
				if keep {
					item.value = append([]byte(nil), value...)
				}
			}
			r.resources = append(r.resources, item)
		}
		return nil
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
	message := []byte(nil)
	if len(data) == 1 {
		message = data[0].ReadOnlyData()
	} else {
		r.scratch = r.scratch[:0]
		for _, buffer := range data {
			r.scratch = append(r.scratch, buffer.ReadOnlyData()...)
		}
		message = r.scratch
	}
	if err := r.read(message); err != nil {
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
