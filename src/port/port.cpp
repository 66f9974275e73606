#include "kbnet/port/port.hpp"

namespace kbnet::port {

QueueCounters& QueueCounters::operator+=(const QueueCounters& o) noexcept {
    rx_packets += o.rx_packets;
    rx_bytes += o.rx_bytes;
    tx_packets += o.tx_packets;
    tx_bytes += o.tx_bytes;
    rx_dropped += o.rx_dropped;
    tx_dropped += o.tx_dropped;
    tx_busy += o.tx_busy;
    rx_errors += o.rx_errors;
    return *this;
}

QueueCounters Port::totals() const noexcept {
    QueueCounters sum;
    for (const QueueCounters& q : counters_) sum += q;
    return sum;
}

}  // namespace kbnet::port
