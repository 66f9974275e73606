/* The contract between kbnet's XDP program (kbnet_xdp.bpf.c, BPF C) and the
 * library that loads it (xdp_maps.cpp, C++): map names, key layouts, slot
 * indices. Plain C with fixed-width kernel types so both compilers agree on
 * every byte; a change here is a change of both sides at once.
 */
#ifndef KBNET_XDP_ABI_H
#define KBNET_XDP_ABI_H

#include <linux/types.h>

/* Program and map names as the kernel stores them (BPF_OBJ_NAME_LEN is 16,
 * so each stays under 16 bytes). The program name is how a program left
 * behind by a killed process is recognised at the next start. */
#define KBNET_XDP_PROG_NAME "kbnet_xdp"
#define KBNET_XDP_MAP_XSKS "kbnet_xsks"
#define KBNET_XDP_MAP_FILTERS "kbnet_filters"
#define KBNET_XDP_MAP_CONFIG "kbnet_config"
#define KBNET_XDP_MAP_COUNTERS "kbnet_counters"

/* XSKMAP size: the highest rx queue index a socket can be bound to, plus
 * one. Large NICs have up to a few hundred channels. */
#define KBNET_XDP_MAX_QUEUES 1024
/* Filter entries: one per accelerated local port (and address). */
#define KBNET_XDP_MAX_FILTERS 4096

/* kbnet_config, an array of __u32. */
#define KBNET_XDP_CONFIG_MODE 0  /* KBNET_XDP_MODE_* */
#define KBNET_XDP_CONFIG_OWNER 1 /* pid of the process that attached the program */
#define KBNET_XDP_CONFIG_SLOTS 2

#define KBNET_XDP_MODE_FILTERED 0 /* only filter matches go to the sockets */
#define KBNET_XDP_MODE_ALL 1      /* every frame goes to the socket of its queue */

/* Filter key: what a received IPv4 packet is matched on. Addresses and
 * ports are in network byte order, exactly as they sit in the packet, so
 * the program compares without swapping. `pad` must be zero.
 * A key with proto 0 and port 0 names an owned address (a stack in
 * dedicated mode): every IPv4 packet to it, any protocol, fragments
 * included, and every ARP packet whose target is it. */
struct kbnet_filter_key {
    __u32 addr; /* local (destination) IPv4 address, 0 = any */
    __u16 port; /* local (destination) UDP or TCP port */
    __u8 proto; /* IPPROTO_UDP or IPPROTO_TCP; 0 with port 0: the whole address */
    __u8 pad;
};

/* Filter value: what to do with a match. */
#define KBNET_XDP_ACTION_REDIRECT 1 /* to the XDP socket of the rx queue */
#define KBNET_XDP_ACTION_DROP 2     /* discard in the driver */

/* kbnet_counters, a per-CPU array of __u64. */
#define KBNET_XDP_CNT_REDIRECTED 0 /* handed to an XDP socket */
#define KBNET_XDP_CNT_PASSED 1     /* handed to the kernel's stack (all reasons) */
#define KBNET_XDP_CNT_DROPPED 2    /* matched a drop filter */
#define KBNET_XDP_CNT_NO_SOCKET 3  /* of passed: for kbnet, but no socket on that queue */
#define KBNET_XDP_CNT_FRAGMENT 4   /* of passed: IPv4 fragments, which carry no usable port */
#define KBNET_XDP_COUNTERS 5

#endif /* KBNET_XDP_ABI_H */
