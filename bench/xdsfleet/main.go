// xdsfleet simulates Envoy sidecars for the control-plane benchmarks: each proxy is its own ADS stream (SotW or
// delta) that subscribes as Envoy does — CDS and LDS wildcard, then the EDS names of the EDS clusters it received,
// the RDS names of its HTTP connection managers and the ECDS names of their discovered filters — and ACKs everything.
//
// It is the Go twin of control/xds/fleet.ts. The benchmarks run it because it reads a response for a small fraction
// of what a Node.js client spends (like Envoy's own C++ client), so on a shared machine the simulator leaves the
// CPU to the control service being measured. It speaks the same messages as bench/control/fleet_worker.ts, as JSON
// lines: commands on stdin, replies on stdout (see bench/control/fleet_process.ts).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	typeCluster   = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEndpoint  = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeListener  = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute     = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	typeExtension = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
	typeHCM       = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	// Envoy's default initial_stream_window_size and initial_connection_window_size.
	envoyWindow = 256 << 20
)

type nodeSpec struct {
	ID       string         `json:"id"`
	Cluster  string         `json:"cluster"`
	Metadata map[string]any `json:"metadata"`
}

type proxySpec struct {
	Protocol string   `json:"protocol"`
	Node     nodeSpec `json:"node"`
}

type command struct {
	Type              string      `json:"type"`
	Address           string      `json:"address"`
	Proxies           []proxySpec `json:"proxies"`
	StreamsPerChannel int         `json:"streamsPerChannel"`
	TimeoutMs         int         `json:"timeoutMs"`
	QuietMs           int         `json:"quietMs"`
}

type convergence struct {
	LatenciesMs []float64 `json:"latenciesMs"`
	Updated     int       `json:"updated"`
	Responses   int       `json:"responses"`
	Bytes       int       `json:"bytes"`
}

type protocolResult struct {
	Protocol string      `json:"protocol"`
	Result   convergence `json:"result"`
}

// member is one simulated proxy's record, written by its stream's goroutine and read by the measuring one.
type member struct {
	protocol string
	mu       sync.Mutex
	seen     map[string]bool
	last     time.Time
	// Since the last mark: responses and the bytes of the resources they carried.
	responses int
	bytes     int
	failure   error
}

func (m *member) note(typeURL string, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[typeURL] = true
	m.last = time.Now()
	m.responses++
	m.bytes += bytes
}

func (m *member) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failure = err
}

type fleet struct {
	members []*member
	conns   []*grpc.ClientConn
	cancel  context.CancelFunc
}

var out = struct {
	sync.Mutex
	*json.Encoder
}{Encoder: json.NewEncoder(os.Stdout)}

func reply(message any) {
	out.Lock()
	defer out.Unlock()
	if err := out.Encode(message); err != nil {
		os.Exit(1)
	}
}

func replyError(err error) {
	reply(map[string]string{"type": "error", "message": err.Error()})
}

func main() {
	commands := bufio.NewScanner(os.Stdin)
	commands.Buffer(make([]byte, 1<<20), 256<<20)
	var running *fleet
	for commands.Scan() {
		var cmd command
		if err := json.Unmarshal(commands.Bytes(), &cmd); err != nil {
			replyError(fmt.Errorf("bad command: %w", err))
			continue
		}
		switch cmd.Type {
		case "start":
			started := time.Now()
			f, err := start(cmd)
			if err != nil {
				replyError(err)
				continue
			}
			running = f
			reply(map[string]any{"type": "started", "ms": float64(time.Since(started).Microseconds()) / 1000})
		case "measure":
			if running == nil {
				replyError(fmt.Errorf("measure before start"))
				continue
			}
			results, err := running.measure(cmd, commands)
			if err != nil {
				replyError(err)
				continue
			}
			reply(map[string]any{"type": "measured", "results": results})
		case "close":
			if running != nil {
				running.close()
			}
			return
		default:
			replyError(fmt.Errorf("unknown command %q", cmd.Type))
		}
	}
}

func start(cmd command) (*fleet, error) {
	perChannel := cmd.StreamsPerChannel
	if perChannel <= 0 {
		perChannel = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{cancel: cancel}
	pool := &dirtyPool{}
	for index, spec := range cmd.Proxies {
		if index%perChannel == 0 {
			conn, err := grpc.NewClient(cmd.Address,
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithInitialWindowSize(envoyWindow), grpc.WithInitialConnWindowSize(envoyWindow),
				// While thousands of proxies connect at once the server can take longer than gRPC's default 20 s to
				// answer a new connection: wait for it (and retry a failed connection) instead of failing the stream.
				grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: 2 * time.Minute}),
				experimental.WithBufferPool(pool),
				grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.WaitForReady(true), grpc.ForceCodecV2(newCodec())))
			if err != nil {
				f.close()
				return nil, err
			}
			f.conns = append(f.conns, conn)
		}
		metadata, err := structpb.NewStruct(spec.Node.Metadata)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("node %s: %w", spec.Node.ID, err)
		}
		node := &corev3.Node{Id: spec.Node.ID, Cluster: spec.Node.Cluster, Metadata: metadata, UserAgentName: "as-mesh-xdsfleet"}
		m := &member{protocol: spec.Protocol, seen: map[string]bool{}}
		f.members = append(f.members, m)
		client := discoveryv3.NewAggregatedDiscoveryServiceClient(f.conns[len(f.conns)-1])
		switch spec.Protocol {
		case "sotw":
			go runSotw(ctx, client, node, m)
		case "delta":
			go runDelta(ctx, client, node, m)
		default:
			f.close()
			return nil, fmt.Errorf("unknown protocol %q", spec.Protocol)
		}
	}
	deadline := time.Now().Add(time.Duration(cmd.TimeoutMs) * time.Millisecond)
	quiet := time.Duration(cmd.QuietMs) * time.Millisecond
	for {
		time.Sleep(20 * time.Millisecond)
		ready, last, failure := f.state()
		if failure != nil {
			f.close()
			return nil, failure
		}
		if ready && time.Since(last) >= quiet {
			return f, nil
		}
		if time.Now().After(deadline) {
			f.close()
			return nil, fmt.Errorf("the fleet did not receive its initial config in time")
		}
	}
}

// state: whether every proxy has its clusters and listeners, the last response any proxy got, and a failure.
func (f *fleet) state() (bool, time.Time, error) {
	ready := true
	var last time.Time
	for _, m := range f.members {
		m.mu.Lock()
		ready = ready && m.seen[typeCluster] && m.seen[typeListener]
		if m.last.After(last) {
			last = m.last
		}
		failure := m.failure
		m.mu.Unlock()
		if failure != nil {
			return false, last, failure
		}
	}
	return ready, last, nil
}

// measure marks every proxy, tells the parent to make its change, waits for "changed", then until every proxy has
// received something and none has for quietMs; it reports how long after the mark each proxy got its last response.
func (f *fleet) measure(cmd command, commands *bufio.Scanner) ([]protocolResult, error) {
	for _, m := range f.members {
		m.mu.Lock()
		m.responses, m.bytes = 0, 0
		m.mu.Unlock()
	}
	started := time.Now()
	reply(map[string]string{"type": "change"})
	if !commands.Scan() {
		return nil, fmt.Errorf("input closed during a change")
	}
	var changed command
	if err := json.Unmarshal(commands.Bytes(), &changed); err != nil || changed.Type != "changed" {
		return nil, fmt.Errorf("expected \"changed\", got %s", commands.Text())
	}
	quiet := time.Duration(cmd.QuietMs) * time.Millisecond
	deadline := time.Now().Add(time.Duration(cmd.TimeoutMs) * time.Millisecond)
	for {
		time.Sleep(min(quiet, 50*time.Millisecond))
		last := started
		waiting := false
		for _, m := range f.members {
			m.mu.Lock()
			if m.last.After(last) {
				last = m.last
			}
			waiting = waiting || m.responses == 0
			m.mu.Unlock()
		}
		if time.Since(last) >= quiet && !waiting {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the fleet did not settle in time")
		}
	}
	var results []protocolResult
	for _, protocol := range []string{"sotw", "delta"} {
		result := convergence{LatenciesMs: []float64{}}
		present := false
		for _, m := range f.members {
			if m.protocol != protocol {
				continue
			}
			present = true
			m.mu.Lock()
			if m.responses > 0 {
				result.LatenciesMs = append(result.LatenciesMs, float64(m.last.Sub(started).Microseconds())/1000)
				result.Updated++
				result.Responses += m.responses
				result.Bytes += m.bytes
			}
			m.mu.Unlock()
		}
		if present {
			slices.Sort(result.LatenciesMs)
			results = append(results, protocolResult{Protocol: protocol, Result: result})
		}
	}
	return results, nil
}

func (f *fleet) close() {
	f.cancel()
	for _, conn := range f.conns {
		conn.Close()
	}
}

// sender sends a stream's requests, the node with the first only (as Envoy does); a failed send fails the proxy.
func sender[Request any](send func(Request) error, withNode func(Request), m *member) func(Request) bool {
	nodeSent := false
	return func(request Request) bool {
		if !nodeSent {
			withNode(request)
			nodeSent = true
		}
		if err := send(request); err != nil {
			m.fail(err)
			return false
		}
		return true
	}
}

// receiver reads a stream's responses, each into the same response value, and notes them for the proxy; a failed
// read fails the proxy, unless the fleet is closing.
func receiver(ctx context.Context, recv func(any) error, m *member, delta bool) func() (*response, bool) {
	received := &response{delta: delta}
	return func() (*response, bool) {
		if err := recv(received); err != nil {
			if ctx.Err() == nil {
				m.fail(err)
			}
			return nil, false
		}
		m.note(received.typeURL, received.bytes())
		return received, true
	}
}

func runSotw(ctx context.Context, client discoveryv3.AggregatedDiscoveryServiceClient, node *corev3.Node, m *member) {
	stream, err := client.StreamAggregatedResources(ctx)
	if err != nil {
		m.fail(err)
		return
	}
	send := sender(stream.Send, func(request *discoveryv3.DiscoveryRequest) { request.Node = node }, m)
	names := map[string][]string{}
	versions := map[string]string{}
	request := func(typeURL string, wanted []string) bool {
		names[typeURL] = wanted
		return send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: wanted, VersionInfo: versions[typeURL]})
	}
	if !request(typeCluster, nil) || !request(typeListener, nil) {
		return
	}
	var eds, rds, ecds string
	receive := receiver(ctx, stream.RecvMsg, m, false)
	for {
		received, ok := receive()
		if !ok {
			return
		}
		versions[received.typeURL] = received.version
		if !send(&discoveryv3.DiscoveryRequest{TypeUrl: received.typeURL, ResourceNames: names[received.typeURL], VersionInfo: received.version, ResponseNonce: received.nonce}) {
			return
		}
		switch received.typeURL {
		case typeCluster:
			wanted := edsNames(values(received.resources))
			if key := strings.Join(wanted, ","); key != eds {
				eds = key
				if !request(typeEndpoint, wanted) {
					return
				}
			}
		case typeListener:
			routes, extensions := listenerDependencies(values(received.resources))
			if key := strings.Join(extensions, ","); key != ecds {
				ecds = key
				if !request(typeExtension, extensions) {
					return
				}
			}
			if key := strings.Join(routes, ","); key != rds {
				rds = key
				if !request(typeRoute, routes) {
					return
				}
			}
		}
	}
}

func runDelta(ctx context.Context, client discoveryv3.AggregatedDiscoveryServiceClient, node *corev3.Node, m *member) {
	stream, err := client.DeltaAggregatedResources(ctx)
	if err != nil {
		m.fail(err)
		return
	}
	send := sender(stream.Send, func(request *discoveryv3.DeltaDiscoveryRequest) { request.Node = node }, m)
	subscribed := map[string]map[string]bool{typeEndpoint: {}, typeRoute: {}, typeExtension: {}}
	follow := func(typeURL string, wanted []string) bool {
		current := subscribed[typeURL]
		var added, removed []string
		next := map[string]bool{}
		for _, name := range wanted {
			next[name] = true
			if !current[name] {
				added = append(added, name)
			}
		}
		for name := range current {
			if !next[name] {
				removed = append(removed, name)
			}
		}
		slices.Sort(removed)
		subscribed[typeURL] = next
		if len(added) > 0 && !send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, ResourceNamesSubscribe: added}) {
			return false
		}
		return len(removed) == 0 || send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, ResourceNamesUnsubscribe: removed})
	}
	held := map[string]map[string][]byte{typeCluster: {}, typeListener: {}}
	if !send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeCluster}) || !send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeListener}) {
		return
	}
	receive := receiver(ctx, stream.RecvMsg, m, true)
	for {
		received, ok := receive()
		if !ok {
			return
		}
		if !send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: received.typeURL, ResponseNonce: received.nonce}) {
			return
		}
		resources, ok := held[received.typeURL]
		if !ok {
			continue
		}
		for _, resource := range received.resources {
			if resource.value != nil {
				resources[resource.name] = resource.value
			}
		}
		for _, name := range received.removed {
			delete(resources, name)
		}
		all := make([][]byte, 0, len(resources))
		for _, resource := range resources {
			all = append(all, resource)
		}
		if received.typeURL == typeCluster {
			if !follow(typeEndpoint, edsNames(all)) {
				return
			}
		} else {
			routes, extensions := listenerDependencies(all)
			if !follow(typeExtension, extensions) || !follow(typeRoute, routes) {
				return
			}
		}
	}
}

// values: the resources' values (kept for the types the fleet follows).
func values(resources []resource) [][]byte {
	all := make([][]byte, 0, len(resources))
	for _, resource := range resources {
		all = append(all, resource.value)
	}
	return all
}

// edsNames: the EDS names a set of clusters needs (an EDS cluster's service name, or its own name), sorted.
func edsNames(clusters [][]byte) []string {
	var names []string
	for _, value := range clusters {
		var cluster clusterv3.Cluster
		if proto.Unmarshal(value, &cluster) != nil {
			continue
		}
		if cluster.GetType() == clusterv3.Cluster_EDS {
			name := cluster.GetEdsClusterConfig().GetServiceName()
			if name == "" {
				name = cluster.Name
			}
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// listenerDependencies: the RDS and ECDS names a set of listeners needs, each sorted.
func listenerDependencies(listeners [][]byte) ([]string, []string) {
	routes := map[string]bool{}
	extensions := map[string]bool{}
	for _, value := range listeners {
		var listener listenerv3.Listener
		if proto.Unmarshal(value, &listener) != nil {
			continue
		}
		chains := listener.FilterChains
		if listener.DefaultFilterChain != nil {
			chains = append(chains, listener.DefaultFilterChain)
		}
		for _, chain := range chains {
			for _, filter := range chain.Filters {
				config := filter.GetTypedConfig()
				if config == nil || config.TypeUrl != typeHCM {
					continue
				}
				var hcm hcmv3.HttpConnectionManager
				if proto.Unmarshal(config.Value, &hcm) != nil {
					continue
				}
				if rds := hcm.GetRds(); rds != nil {
					routes[rds.RouteConfigName] = true
				}
				for _, httpFilter := range hcm.HttpFilters {
					if httpFilter.GetConfigDiscovery() != nil {
						extensions[httpFilter.Name] = true
					}
				}
			}
		}
	}
	return sortedKeys(routes), sortedKeys(extensions)
}

func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for key := range set {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
