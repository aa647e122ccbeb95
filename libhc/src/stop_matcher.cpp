// SPDX-License-Identifier: MIT
#include <hc/tokenizer.hpp>

#include <algorithm>

namespace hc {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

size_t StopMatcher::pending_prefix() const {
    size_t best = 0;
    for (const std::string& stop : stops_) {
        size_t max = std::min(stop.size() - 1, held_.size());
        for (size_t n = max; n > best; n--) {
            if (std::string_view(held_).substr(held_.size() - n) ==
                std::string_view(stop).substr(0, n)) {
                best = n;
                break;
            }
        }
    }
    return best;
}

std::string StopMatcher::push(std::string_view piece) {
    if (stopped_)
        return {};
    held_.append(piece);
    // Earliest stop string in what is held: text before it is the answer.
    size_t cut = std::string::npos;
    for (const std::string& stop : stops_)
        cut = std::min(cut, held_.find(stop));
    if (cut != std::string::npos) {
        stopped_ = true;
        std::string out = held_.substr(0, cut);
        held_.clear();
        return out;
    }
    size_t keep = pending_prefix();
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopMatcher::finish() {
    std::string out;
    if (!stopped_)
        out.swap(held_);
    held_.clear();
    return out;
}

} // namespace hc
