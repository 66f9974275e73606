#include "kbnet/stack/igmp.hpp"

#include <stdexcept>

namespace kbnet::stack {

namespace {

using wire::IgmpKind;
using wire::IgmpV2Message;
using wire::IgmpV3GroupRecord;
using wire::IgmpView;
using wire::Ipv4Address;

constexpr std::uint64_t kMsNs = 1'000'000;
constexpr std::uint64_t kDeciSecondNs = 100 * kMsNs;  // Max Resp Time unit (RFC 2236 §2.2, RFC 3376 §4.1.1)
constexpr std::uint64_t kSecondNs = 1'000 * kMsNs;
// RFC 2236 §4 (and RFC 3376 §7.2.1): a v1 querier's Max Response Time of
// 0 means 10 s; a v1 host always waits up to 10 s (RFC 1112 appendix I).
constexpr std::uint32_t kV1MaxRespDs = 100;

}  // namespace

IgmpHost::IgmpHost(IgmpOwner& owner, TimerWheel& wheel, const IgmpConfig& config, IgmpCounters& counters)
    : owner_(owner),
      wheel_(wheel),
      counters_(counters),
      config_(config),
      capacity_(config.capacity),
      robustness_(config.robustness),
      query_interval_ns_(config.query_interval_ns) {
    if (config.capacity < 1 || config.capacity > 65535) {
        throw std::invalid_argument("IgmpConfig::capacity must be 1 .. 65535 groups");
    }
    if (config.robustness < 1 || config.robustness > 7) {
        throw std::invalid_argument("IgmpConfig::robustness must be 1 .. 7 (RFC 3376 §8.1: never 0; QRV holds 7)");
    }
    if (config.query_interval_ns == 0) throw std::invalid_argument("IgmpConfig::query_interval_ns must be > 0");
    if (config.unsolicited_report_interval_ns == 0 || config.v2_unsolicited_report_interval_ns == 0) {
        throw std::invalid_argument("IgmpConfig: unsolicited report intervals must be > 0");
    }
    groups_ = std::make_unique<Group[]>(capacity_);
    joined_ = std::make_unique<Ipv4Address[]>(capacity_);
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Group& g = groups_[i];
        g.host = this;
        g.change_timer.set_callback(&IgmpHost::on_change_timer, &g);
        g.response_timer.set_callback(&IgmpHost::on_response_timer, &g);
    }
    general_timer_.set_callback(&IgmpHost::on_general_timer, this);
    v1_querier_timer_.set_callback(&IgmpHost::on_querier_timer, this);
    v2_querier_timer_.set_callback(&IgmpHost::on_querier_timer, this);
}

// ---------------------------------------------------------------------------
// Socket memberships

Status IgmpHost::join(Ipv4Address group, std::uint64_t now_ns) noexcept {
    if (!group.is_multicast()) return Error{Errc::invalid_argument, "IGMP join: not a multicast (224.0.0.0/4) address"};
    // RFC 3376 §5 / RFC 2236 §6: reception from 224.0.0.1 is permanently
    // enabled and no IGMP message is ever sent about it.
    if (group == wire::kIpv4AllSystems) return {};
    Group* g = find(group);
    if (g != nullptr && g->refs > 0) {
        ++g->refs;  // RFC 3376 §3.2: the interface state is the union; it does not change
        return {};
    }
    if (g == nullptr) {
        g = allocate();
        if (g == nullptr) {
            return Error{Errc::no_buffers, "IGMP join: group table full (raise IgmpConfig::capacity)"};
        }
        g->address = group;
        g->in_use = true;
    }
    g->refs = 1;
    add_joined(group);
    // RFC 3376 §5.1: INCLUDE {} -> EXCLUDE {} is a filter-mode change,
    // reported with CHANGE_TO_EXCLUDE_MODE at once and [Robustness
    // Variable] - 1 more times; a join during a pending leave replaces it
    // (a new change restarts the count). RFC 2236 §3: in v2 the unsolicited
    // report is "repeated once or twice after short delays".
    g->change_record = wire::kIgmpChangeToExclude;
    g->retransmissions = static_cast<std::uint8_t>(robustness_ - 1);
    send_change(*g);
    if (g->retransmissions > 0) {
        wheel_.schedule(g->change_timer, now_ns + random_delay(unsolicited_interval_ns()));
    } else {
        wheel_.cancel(g->change_timer);
    }
    return {};
}

Status IgmpHost::leave(Ipv4Address group, std::uint64_t now_ns) noexcept {
    if (!group.is_multicast())
        return Error{Errc::invalid_argument, "IGMP leave: not a multicast (224.0.0.0/4) address"};
    if (group == wire::kIpv4AllSystems) return {};
    Group* g = find(group);
    if (g == nullptr || g->refs == 0) return Error{Errc::invalid_argument, "IGMP leave: group not joined"};
    if (--g->refs > 0) return {};
    remove_joined(group);
    // RFC 3376 §5.2: a pending group answer is sent "if and only if the
    // interface has reception state for that group"; it has none now.
    wheel_.cancel(g->response_timer);
    switch (mode_) {
        case IgmpMode::v3:
            // RFC 3376 §5.1: EXCLUDE {} -> INCLUDE {}, CHANGE_TO_INCLUDE_MODE
            // sent [Robustness Variable] times in all. The entry stays (not a
            // member) until the repetitions are done.
            g->change_record = wire::kIgmpChangeToInclude;
            g->retransmissions = static_cast<std::uint8_t>(robustness_ - 1);
            send_change(*g);
            if (g->retransmissions > 0) {
                wheel_.schedule(g->change_timer, now_ns + random_delay(unsolicited_interval_ns()));
            } else {
                release(*g);
            }
            break;
        case IgmpMode::v2:
            // RFC 2236 §3: "if it was the last host to reply to a Query with
            // a Membership Report for that group, it SHOULD send a Leave
            // Group message to the all-routers multicast group (224.0.0.2)";
            // otherwise another member answered and may still be there.
            if (g->last_reporter) {
                const IgmpV2Message msg = IgmpV2Message::leave(group);
                if (msg.emit(tx_)) {
                    owner_.send_igmp(wire::kIpv4AllRouters, std::span(tx_.data(), IgmpV2Message::len()));
                    ++counters_.out_leaves;
                }
            }
            release(*g);
            break;
        case IgmpMode::v1:
            // RFC 2236 §4 / RFC 3376 §7.2.1: a v1 querier knows no leave;
            // membership simply times out.
            release(*g);
            break;
    }
    return {};
}

// ---------------------------------------------------------------------------
// Input

void IgmpHost::on_message(std::span<const std::uint8_t> message, [[maybe_unused]] Ipv4Address source,
                          Ipv4Address destination, std::uint64_t now_ns) noexcept {
    ++counters_.in_msgs;
    const Result<IgmpView> parsed = IgmpView::parse(message);
    if (!parsed) {
        // RFC 2236 §2.1 / RFC 3376 §4: unrecognized types are ignored (they
        // belong to other users of protocol 2); anything else is broken.
        if (parsed.code() != Errc::unsupported) ++counters_.in_errors;
        return;
    }
    const IgmpView& view = *parsed;
    // RFC 2236 §2.3, RFC 3376 §4.1.2: a message whose checksum fails is not
    // trusted, not even for its type.
    if (!view.checksum_ok()) {
        ++counters_.in_errors;
        return;
    }
    switch (view.kind()) {
        case IgmpKind::v1_query:
        case IgmpKind::v2_query:
        case IgmpKind::v3_query: on_query(view, destination, now_ns); break;
        case IgmpKind::v1_report:
        case IgmpKind::v2_report:
            ++counters_.in_reports;
            on_older_report(view.group_address());
            break;
        case IgmpKind::v3_report:
            // RFC 3376 §7.2.2 / §5: v3 reports go to the routers; hosts
            // never suppress on them.
            ++counters_.in_reports;
            break;
        case IgmpKind::v2_leave: break;  // for routers (RFC 2236 §3)
    }
}

void IgmpHost::on_query(const IgmpView& query, Ipv4Address destination, std::uint64_t now_ns) noexcept {
    const Ipv4Address group = query.group_address();
    const bool general = group.is_unspecified();
    // RFC 3376 §4.1.3 / RFC 2236 §2.4: the group field of a query is zero
    // or the multicast address queried.
    if (!general && !group.is_multicast()) {
        ++counters_.in_errors;
        return;
    }
    // RFC 3376 §4.1.9 (Number of Sources): zero in a General Query; a
    // general query with sources is not a valid query.
    if (general && query.kind() == IgmpKind::v3_query && !query.sources().empty()) {
        ++counters_.in_errors;
        return;
    }
    ++counters_.in_queries;
    // RFC 3376 §9.1: "Hosts SHOULD ignore v1, v2 or v3 General Queries
    // sent to a multicast address other than 224.0.0.1", so a forged
    // general query cannot move the host to an older version or make it
    // report everything.
    if (general && destination.is_multicast() && destination != wire::kIpv4AllSystems) return;

    switch (query.kind()) {
        case IgmpKind::v1_query:
            // RFC 3376 §7.2.1: IGMPv1 Querier Present is set on every v1
            // query (v1 queries are all general), and v1 mode wins.
            wheel_.schedule(v1_querier_timer_, now_ns + older_querier_timeout_ns());
            set_mode(IgmpMode::v1);
            break;
        case IgmpKind::v2_query:
            // RFC 3376 §7.2.1: IGMPv2 Querier Present is set "whenever an
            // IGMPv2 General Query is received"; a group-specific v2 query
            // alone does not change the mode.
            if (general) {
                wheel_.schedule(v2_querier_timer_, now_ns + older_querier_timeout_ns());
                if (mode_ == IgmpMode::v3) set_mode(IgmpMode::v2);
            }
            break;
        case IgmpKind::v3_query: {
            // RFC 3376 §4.1.6 / §4.1.7: the querier's QRV and QQI; zero means
            // "not given" (a QRV above 7), so ours applies. Linux hosts adopt
            // them the same way; §8.12 computes the older-querier timeout
            // from "the [Query Interval] in the last Query received".
            const std::uint8_t qrv = query.querier_robustness();
            robustness_ = qrv != 0 ? qrv : config_.robustness;
            const std::uint32_t qqi = query.querier_query_interval_s();
            query_interval_ns_ = qqi != 0 ? qqi * kSecondNs : config_.query_interval_ns;
            break;
        }
        default: break;
    }

    switch (mode_) {
        case IgmpMode::v3:
            // Also a v2 group-specific query while no v2 general query is
            // recent: the mode decides the protocol (RFC 3376 §7.2.1), so it
            // is answered in v3, within its linear Max Response Time.
            on_v3_query(query, now_ns);
            break;
        case IgmpMode::v2:
            // RFC 3376 §7.2.1: v2 protocol on the interface. A v3 query's
            // Max Resp Code keeps its v3 meaning (the querier wrote it so).
            on_older_query(query.max_response_time_ds(), group, now_ns);
            break;
        case IgmpMode::v1:
            // RFC 1112 appendix I: a v1 host answers every query as a
            // general one, within 10 s.
            on_older_query(kV1MaxRespDs, Ipv4Address{}, now_ns);
            break;
    }
}

// RFC 2236 §3: "When a host receives a General Query, it sets delay timers
// for each group (excluding the all-systems group) of which it is a member
// ... When a host receives a Group-Specific Query, it sets a delay timer
// ... for the group being queried if it is a member on the interface. If a
// timer for the group is already running, it is reset to the random value
// only if the requested Max Response Time is less than the remaining value
// of the running timer."
void IgmpHost::on_older_query(std::uint32_t max_resp_ds, Ipv4Address group, std::uint64_t now_ns) noexcept {
    const std::uint64_t max_ns = max_resp_ds * kDeciSecondNs;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Group& g = groups_[i];
        if (g.refs == 0) continue;
        if (!group.is_unspecified() && g.address != group) continue;
        if (g.response_timer.armed()) {
            const std::uint64_t deadline = g.response_timer.deadline_ns();
            const std::uint64_t remaining = deadline > now_ns ? deadline - now_ns : 0;
            if (remaining <= max_ns) continue;
        }
        wheel_.schedule(g.response_timer, now_ns + random_delay(max_ns));
    }
}

// RFC 3376 §5.2: the rules for pending responses, one interface timer for
// general queries and one timer per group for group(-and-source)-specific
// queries.
void IgmpHost::on_v3_query(const IgmpView& query, std::uint64_t now_ns) noexcept {
    const Ipv4Address group = query.group_address();
    const std::uint64_t deadline = now_ns + random_delay(query.max_response_time_ds() * kDeciSecondNs);
    // Rule 1: "If there is a pending response to a previous General Query
    // scheduled sooner than the selected delay, no additional response
    // needs to be scheduled" (it reports every group anyway).
    if (general_timer_.armed() && general_timer_.deadline_ns() <= deadline) return;
    // Rule 2: a general query (re)schedules the interface timer.
    if (group.is_unspecified()) {
        wheel_.schedule(general_timer_, deadline);
        return;
    }
    Group* g = find(group);
    if (g == nullptr || g->refs == 0) return;  // no reception state: nothing to report
    // Rules 3 and 4: one response per group, at the earlier of the pending
    // one and the new delay. A group-and-source-specific query is answered
    // like a group-specific one: our state is EXCLUDE {}, so every queried
    // source is wanted and the full record MODE_IS_EXCLUDE {} answers it
    // (Linux does the same with no source filters).
    if (g->response_timer.armed() && g->response_timer.deadline_ns() <= deadline) return;
    wheel_.schedule(g->response_timer, deadline);
}

// RFC 2236 §3: "If the host receives another host's Report (version 1 or
// 2) while it has a timer running, it stops its timer for the specified
// group and does not send a Report", and the other host is now the last
// reporter. Only in v1/v2 mode: RFC 3376 §7.2.2 makes suppression of v3
// records optional, and a v3 querier tracks each host, so we do not.
void IgmpHost::on_older_report(Ipv4Address group) noexcept {
    if (mode_ == IgmpMode::v3 || !group.is_multicast()) return;
    Group* g = find(group);
    if (g == nullptr || g->refs == 0) return;
    wheel_.cancel(g->response_timer);
    wheel_.cancel(g->change_timer);  // RFC 2236 §6: Delaying Member -> Idle Member
    g->retransmissions = 0;
    g->last_reporter = false;
}

// RFC 3376 §7.2.1: "Whenever a host changes its compatibility mode, it
// cancels all its pending response and retransmission timers." Pending v3
// leaves are dropped with them.
void IgmpHost::set_mode(IgmpMode mode) noexcept {
    if (mode == mode_) return;
    mode_ = mode;
    wheel_.cancel(general_timer_);
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Group& g = groups_[i];
        if (!g.in_use) continue;
        wheel_.cancel(g.response_timer);
        wheel_.cancel(g.change_timer);
        g.retransmissions = 0;
        if (g.refs == 0) release(g);
    }
}

// RFC 3376 §8.12: "([Robustness Variable] times (the [Query Interval] in
// the last Query received)) plus ([Query Response Interval])"; 260 s with
// the defaults.
std::uint64_t IgmpHost::older_querier_timeout_ns() const noexcept {
    return robustness_ * query_interval_ns_ + config_.query_response_interval_ns;
}

// A delay in (0, max_ns] (RFC 2236 §3: "(0, Max Response Time]"; RFC 3376
// §5.1 and §5.2 likewise), in whole milliseconds: the timer wheel's tick.
// A zero maximum (a v3 Max Resp Code of 0) means answer at once.
std::uint64_t IgmpHost::random_delay(std::uint64_t max_ns) noexcept {
    if (max_ns < kMsNs) return max_ns;
    const std::uint64_t steps = max_ns / kMsNs;
    return (1 + owner_.random() % steps) * kMsNs;
}

std::uint64_t IgmpHost::unsolicited_interval_ns() const noexcept {
    return mode_ == IgmpMode::v3 ? config_.unsolicited_report_interval_ns : config_.v2_unsolicited_report_interval_ns;
}

// ---------------------------------------------------------------------------
// Timers

void IgmpHost::on_change_timer(void* context, Timer& /*timer*/, std::uint64_t now_ns) noexcept {
    Group& g = *static_cast<Group*>(context);
    IgmpHost& host = *g.host;
    if (g.retransmissions > 0) {
        host.send_change(g);
        --g.retransmissions;
    }
    if (g.retransmissions > 0) {
        // RFC 3376 §5.1: retransmitted "at intervals chosen at random from
        // the range (0, [Unsolicited Report Interval])", so hosts that
        // changed together (a link coming up) do not stay in step.
        host.wheel_.schedule(g.change_timer, now_ns + host.random_delay(host.unsolicited_interval_ns()));
    } else if (g.refs == 0) {
        host.release(g);  // the last leave repetition is out
    }
}

void IgmpHost::on_response_timer(void* context, Timer& /*timer*/, std::uint64_t /*now_ns*/) noexcept {
    Group& g = *static_cast<Group*>(context);
    IgmpHost& host = *g.host;
    if (g.refs == 0) return;
    if (host.mode_ == IgmpMode::v3) {
        // RFC 3376 §5.2 case 2: a single Current-State Record for the group.
        host.send_current_state(std::span(&g.address, 1));
    } else {
        host.send_older_report(g);
    }
}

void IgmpHost::on_general_timer(void* context, Timer& /*timer*/, std::uint64_t /*now_ns*/) noexcept {
    // RFC 3376 §5.2 case 1: one Current-State Record per group with
    // reception state, packed into as few reports as fit.
    IgmpHost& host = *static_cast<IgmpHost*>(context);
    host.send_current_state(host.groups());
}

// RFC 3376 §7.2.1: when the IGMPv1 Querier Present timer expires the host
// goes to v2 if the IGMPv2 one runs, else to v3; when the IGMPv2 one
// expires, to v3 unless a v1 querier is still present. The timer that fired
// is already disarmed.
void IgmpHost::on_querier_timer(void* context, Timer& /*timer*/, std::uint64_t /*now_ns*/) noexcept {
    IgmpHost& host = *static_cast<IgmpHost*>(context);
    IgmpMode mode = IgmpMode::v3;
    if (host.v1_querier_timer_.armed()) {
        mode = IgmpMode::v1;
    } else if (host.v2_querier_timer_.armed()) {
        mode = IgmpMode::v2;
    }
    host.set_mode(mode);
}

// ---------------------------------------------------------------------------
// Output

void IgmpHost::send_change(Group& g) noexcept {
    if (mode_ == IgmpMode::v3) {
        records_[0] = IgmpV3GroupRecord{g.change_record, g.address, {}, {}};
        send_v3(std::span(records_.data(), 1), g.change_record == wire::kIgmpChangeToInclude);
    } else if (g.refs > 0) {
        send_older_report(g);
    }
}

// RFC 2236 §3 and §9: a v2 report goes to the group itself, so other
// members hear it (suppression); RFC 1112 appendix I: v1 likewise.
void IgmpHost::send_older_report(Group& g) noexcept {
    const IgmpV2Message msg = mode_ == IgmpMode::v1 ? IgmpV2Message{wire::kIgmpV1MembershipReport, 0, g.address}
                                                    : IgmpV2Message::report(g.address);
    if (!msg.emit(tx_)) return;
    owner_.send_igmp(g.address, std::span(tx_.data(), IgmpV2Message::len()));
    ++counters_.out_reports;
    g.last_reporter = true;
}

void IgmpHost::send_current_state(std::span<const Ipv4Address> groups) noexcept {
    while (!groups.empty()) {
        const std::size_t n = groups.size() < kMaxRecordsPerReport ? groups.size() : kMaxRecordsPerReport;
        for (std::size_t i = 0; i < n; ++i) {
            records_[i] = IgmpV3GroupRecord{wire::kIgmpModeIsExclude, groups[i], {}, {}};
        }
        send_v3(std::span(records_.data(), n), false);
        groups = groups.subspan(n);
    }
}

// RFC 3376 §4.2.14: v3 reports go to 224.0.0.22 (all IGMPv3-capable
// routers). A report whose only record is CHANGE_TO_INCLUDE_MODE {} is the
// v3 leave and counts in OutLeaves.
void IgmpHost::send_v3(std::span<const IgmpV3GroupRecord> records, bool leave) noexcept {
    const wire::IgmpV3Report report{records};
    const std::size_t n = report.len();
    if (!report.emit(tx_)) return;
    owner_.send_igmp(wire::kIpv4IgmpV3Routers, std::span(tx_.data(), n));
    if (leave) {
        ++counters_.out_leaves;
    } else {
        ++counters_.out_reports;
    }
}

// ---------------------------------------------------------------------------
// Table

IgmpHost::Group* IgmpHost::find(Ipv4Address group) noexcept {
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        if (groups_[i].in_use && groups_[i].address == group) return &groups_[i];
    }
    return nullptr;
}

const IgmpHost::Group* IgmpHost::find(Ipv4Address group) const noexcept {
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        if (groups_[i].in_use && groups_[i].address == group) return &groups_[i];
    }
    return nullptr;
}

// A free entry, or else one only repeating a leave: a new membership
// matters more than the last repetitions of a leave (the querier's
// Last Member Query still finds out).
IgmpHost::Group* IgmpHost::allocate() noexcept {
    Group* leaving = nullptr;
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Group& g = groups_[i];
        if (!g.in_use) return &g;
        if (g.refs == 0 && leaving == nullptr) leaving = &g;
    }
    if (leaving != nullptr) release(*leaving);
    return leaving;
}

void IgmpHost::release(Group& g) noexcept {
    wheel_.cancel(g.change_timer);
    wheel_.cancel(g.response_timer);
    g.in_use = false;
    g.refs = 0;
    g.last_reporter = false;
    g.retransmissions = 0;
}

void IgmpHost::add_joined(Ipv4Address group) noexcept { joined_[joined_count_++] = group; }

void IgmpHost::remove_joined(Ipv4Address group) noexcept {
    for (std::uint32_t i = 0; i < joined_count_; ++i) {
        if (joined_[i] == group) {
            joined_[i] = joined_[--joined_count_];
            return;
        }
    }
}

bool IgmpHost::is_member(Ipv4Address group) const noexcept {
    if (group == wire::kIpv4AllSystems) return true;
    for (std::uint32_t i = 0; i < joined_count_; ++i) {
        if (joined_[i] == group) return true;
    }
    return false;
}

std::uint32_t IgmpHost::members(Ipv4Address group) const noexcept {
    const Group* g = find(group);
    return g != nullptr ? g->refs : 0;
}

}  // namespace kbnet::stack
