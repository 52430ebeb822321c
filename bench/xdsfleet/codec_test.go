package main

import (
	"bytes"
	"math/rand"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// split cuts a message into buffers of random sizes, as gRPC hands over one per HTTP/2 frame.
func split(message []byte, random *rand.Rand) mem.BufferSlice {
	var data mem.BufferSlice
	for len(message) > 0 {
		n := min(len(message), 1+random.Intn(64))
		data = append(data, mem.SliceBuffer(message[:n]))
		message = message[n:]
	}
	return data
}

func mustAny(t *testing.T, message proto.Message) *anypb.Any {
	t.Helper()
	packed, err := anypb.New(message)
	if err != nil {
		t.Fatal(err)
	}
	return packed
}

func TestReadsSotwResponsesAsTheGeneratedCodec(t *testing.T) {
	random := rand.New(rand.NewSource(1))
	route := mustAny(t, &routev3.RouteConfiguration{Name: "80", VirtualHosts: []*routev3.VirtualHost{{Name: "a", Domains: []string{"a"}}}})
	cluster := mustAny(t, &clusterv3.Cluster{Name: "outbound|80||a", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}})
	for _, expected := range []*discoveryv3.DiscoveryResponse{
		{VersionInfo: "v1", TypeUrl: typeRoute, Nonce: "0-1", Resources: []*anypb.Any{route}},
		{VersionInfo: "v2", TypeUrl: typeCluster, Nonce: "3-7", Resources: []*anypb.Any{cluster, cluster}, Canary: true},
		{TypeUrl: typeListener, Nonce: "n"},
	} {
		message, err := proto.Marshal(expected)
		if err != nil {
			t.Fatal(err)
		}
		for attempt := 0; attempt < 20; attempt++ {
			got := &response{}
			if err := got.read(split(message, random)); err != nil {
				t.Fatalf("%s: %v", expected.TypeUrl, err)
			}
			if got.version != expected.VersionInfo || got.typeURL != expected.TypeUrl || got.nonce != expected.Nonce || len(got.resources) != len(expected.Resources) {
				t.Fatalf("read %+v, want %v", got, expected)
			}
			for i, resource := range expected.Resources {
				if got.resources[i].size != len(resource.Value) {
					t.Fatalf("resource %d: size %d, want %d", i, got.resources[i].size, len(resource.Value))
				}
				if follows(expected.TypeUrl) != (got.resources[i].value != nil) || (got.resources[i].value != nil && !bytes.Equal(got.resources[i].value, resource.Value)) {
					t.Fatalf("resource %d: value kept wrongly", i)
				}
			}
		}
	}
}

func TestReadsDeltaResponsesAsTheGeneratedCodec(t *testing.T) {
	random := rand.New(rand.NewSource(2))
	cluster := mustAny(t, &clusterv3.Cluster{Name: "outbound|80||a"})
	expected := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: "s1", TypeUrl: typeCluster, Nonce: "5-2", RemovedResources: []string{"gone", "also-gone"},
		Resources: []*discoveryv3.Resource{{Name: "outbound|80||a", Version: "r1", Resource: cluster}, {Name: "no-body", Version: "r2"}},
	}
	message, err := proto.Marshal(expected)
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		got := &response{delta: true}
		if err := got.read(split(message, random)); err != nil {
			t.Fatal(err)
		}
		if got.version != "s1" || got.nonce != "5-2" || len(got.removed) != 2 || got.removed[1] != "also-gone" || len(got.resources) != 2 {
			t.Fatalf("read %+v", got)
		}
		if got.resources[0].name != "outbound|80||a" || !bytes.Equal(got.resources[0].value, cluster.Value) || got.resources[1].name != "no-body" || got.resources[1].value != nil {
			t.Fatalf("resources %+v", got.resources)
		}
	}
}

func TestRefusesTruncatedResponses(t *testing.T) {
	message, err := proto.Marshal(&discoveryv3.DiscoveryResponse{VersionInfo: "v1", TypeUrl: typeCluster, Nonce: "0-1", Resources: []*anypb.Any{mustAny(t, &clusterv3.Cluster{Name: "c"})}})
	if err != nil {
		t.Fatal(err)
	}
	for end := 1; end < len(message); end++ {
		// Cut inside a field: whatever is left must be refused or read as a shorter, well-formed message.
		got := &response{}
		if err := got.read(mem.BufferSlice{mem.SliceBuffer(message[:end])}); err == nil && proto.Unmarshal(message[:end], &discoveryv3.DiscoveryResponse{}) != nil {
			t.Fatalf("accepted %d of %d bytes that the generated codec refuses", end, len(message))
		}
	}
}
