#include "kbnet/core/result.hpp"

namespace kbnet {

std::string_view errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::ok: return "ok";
        case Errc::would_block: return "would_block";
        case Errc::no_buffers: return "no_buffers";
        case Errc::truncated: return "truncated";
        case Errc::malformed: return "malformed";
        case Errc::bad_checksum: return "bad_checksum";
        case Errc::unsupported: return "unsupported";
        case Errc::invalid_argument: return "invalid_argument";
        case Errc::io_error: return "io_error";
        case Errc::closed: return "closed";
    }
    return "unknown";
}

}  // namespace kbnet
