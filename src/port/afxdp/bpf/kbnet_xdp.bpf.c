// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kbnet's XDP steering program (design.md, decision 3).
 *
 * It runs in the driver for every frame received on the interface and
 * decides, before the kernel allocates anything for it, whether the frame
 * belongs to kbnet:
 *
 *   filtered mode (the default): an IPv4 UDP or TCP packet whose local
 *       (destination) address and port are in kbnet_filters goes to the XDP
 *       socket bound to the queue it arrived on; everything else goes to
 *       the kernel with XDP_PASS, so ARP, ICMP, ssh and every other
 *       connection of the host keep working on the same interface.
 *       An owned address (a filter with protocol 0 and port 0: a stack that
 *       owns the address in dedicated mode) takes every IPv4 packet to it,
 *       fragments included, and the ARP packets whose target it is.
 *   all mode: every frame goes to the socket of its queue (L2 tools).
 *
 * A frame for kbnet on a queue that has no socket falls back to XDP_PASS
 * (the flags argument of bpf_redirect_map), never to a drop: a NIC may
 * hash a flow onto a queue the application did not bind.
 *
 * Built at build time with `clang -O2 -g -target bpf`; -g is required,
 * since libxdp reads the run config below and the kernel checks the
 * freplace attachment against the BTF it produces.
 *
 * The program must be accepted by the verifier: every read of packet bytes
 * is preceded by a comparison of its end against data_end in the same
 * function, and the only loop-like step (one VLAN tag) is unrolled by hand.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "kbnet_xdp_abi.h"

/* rx queue index -> XDP socket. Filled by user space with
 * xsk_socket__update_xskmap(); an entry disappears by itself when its
 * socket is closed, so a crashed process leaves no dangling socket. */
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, KBNET_XDP_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} kbnet_xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, KBNET_XDP_MAX_FILTERS);
    __type(key, struct kbnet_filter_key);
    __type(value, __u32); /* KBNET_XDP_ACTION_* */
} kbnet_filters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, KBNET_XDP_CONFIG_SLOTS);
    __type(key, __u32);
    __type(value, __u32);
} kbnet_config SEC(".maps");

/* Per-CPU: each CPU increments its own slot without atomics; user space
 * sums the CPUs when it reads them. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, KBNET_XDP_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} kbnet_counters SEC(".maps");

/* For libxdp's dispatcher: run at the default priority, and let the next
 * program on the interface see what we pass (XDP_PASS chains on; a
 * redirect or drop ends the chain). */
struct {
    __uint(priority, 50);
    __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(kbnet_xdp);

/* 802.1Q and 802.1ad (QinQ outer) tag. */
struct kbnet_vlan_hdr {
    __be16 tci;
    __be16 encapsulated_proto;
};

/* IPv4 fragment bits of frag_off: More Fragments and the offset
 * (RFC 791 section 3.1). */
#define KBNET_IP_MF 0x2000
#define KBNET_IP_OFFSET 0x1fff

/* ARP for IPv4 over Ethernet (RFC 826): the fixed 28-byte body. */
struct kbnet_arp_ipv4 {
    __be16 htype;
    __be16 ptype;
    __u8 hlen;
    __u8 plen;
    __be16 oper;
    __u8 sha[6];
    __be32 spa;
    __u8 tha[6];
    __be32 tpa;
} __attribute__((packed));

/* True if addr (network order) is owned by a kbnet stack. */
static __always_inline int owned(__be32 addr) {
    struct kbnet_filter_key key = {.addr = addr, .port = 0, .proto = 0, .pad = 0};
    const __u32* action = bpf_map_lookup_elem(&kbnet_filters, &key);
    return action && *action == KBNET_XDP_ACTION_REDIRECT;
}

static __always_inline void count(__u32 slot) {
    __u64* c = bpf_map_lookup_elem(&kbnet_counters, &slot);
    if (c) *c += 1;
}

static __always_inline int pass(void) {
    count(KBNET_XDP_CNT_PASSED);
    return XDP_PASS;
}

static __always_inline int to_socket(struct xdp_md* ctx) {
    /* XDP_PASS as the fallback: if no socket is bound on this queue the
     * frame goes to the kernel rather than being dropped. */
    const long action = bpf_redirect_map(&kbnet_xsks, ctx->rx_queue_index, XDP_PASS);
    if (action == XDP_REDIRECT) {
        count(KBNET_XDP_CNT_REDIRECTED);
        return XDP_REDIRECT;
    }
    count(KBNET_XDP_CNT_NO_SOCKET);
    return pass();
}

SEC("xdp")
int kbnet_xdp(struct xdp_md* ctx) {
    const __u32 mode_slot = KBNET_XDP_CONFIG_MODE;
    const __u32* mode = bpf_map_lookup_elem(&kbnet_config, &mode_slot);
    if (mode && *mode == KBNET_XDP_MODE_ALL) return to_socket(ctx);

    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;

    struct ethhdr* eth = data;
    if ((void*)(eth + 1) > data_end) return pass();
    __be16 proto = eth->h_proto;
    void* l3 = eth + 1;

    /* One VLAN tag, unrolled: enough for the usual access-port or
     * sub-interface setup; a stacked (QinQ) frame goes to the kernel. */
    if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
        struct kbnet_vlan_hdr* vlan = l3;
        if ((void*)(vlan + 1) > data_end) return pass();
        proto = vlan->encapsulated_proto;
        l3 = vlan + 1;
    }
    if (proto == bpf_htons(ETH_P_ARP)) {
        /* ARP about an owned address is the owning stack's to answer. */
        struct kbnet_arp_ipv4* arp = l3;
        if ((void*)(arp + 1) > data_end) return pass();
        if (arp->ptype != bpf_htons(ETH_P_IP) || arp->plen != 4) return pass();
        return owned(arp->tpa) ? to_socket(ctx) : pass();
    }
    if (proto != bpf_htons(ETH_P_IP)) return pass();

    struct iphdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return pass();
    /* An owned address takes everything, fragments too (its stack
     * reassembles them) and malformed headers too (its stack drops and
     * counts them; the kernel has no business with that address). */
    if (owned(ip->daddr)) return to_socket(ctx);
    if (ip->version != 4 || ip->ihl < 5) return pass();
    /* Fragments go to the kernel, all of them. A non-first fragment has no
     * UDP/TCP header, so it cannot be matched by port; and redirecting the
     * first fragment while the rest go to the kernel would leave neither
     * side able to reassemble the datagram. The kernel reassembles it. */
    if (ip->frag_off & bpf_htons(KBNET_IP_MF | KBNET_IP_OFFSET)) {
        count(KBNET_XDP_CNT_FRAGMENT);
        return pass();
    }
    if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP) return pass();

    /* ihl is 4 bits, so the header is at most 60 bytes: a bounded offset
     * the verifier can follow. Both UDP and TCP start with the source and
     * destination ports, so 4 bytes is all this needs to read. */
    void* l4 = (void*)ip + ip->ihl * 4;
    if (l4 + 4 > data_end) return pass();
    const __be16 dport = ((struct udphdr*)l4)->dest;

    struct kbnet_filter_key key = {
        .addr = ip->daddr,
        .port = dport,
        .proto = ip->protocol,
        .pad = 0,
    };
    /* A filter on this exact address first, then one on any address. */
    const __u32* action = bpf_map_lookup_elem(&kbnet_filters, &key);
    if (!action) {
        key.addr = 0;
        action = bpf_map_lookup_elem(&kbnet_filters, &key);
    }
    if (!action) return pass();
    if (*action == KBNET_XDP_ACTION_DROP) {
        count(KBNET_XDP_CNT_DROPPED);
        return XDP_DROP;
    }
    return to_socket(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
