// SPDX-License-Identifier: MIT
/**
 * @file hc/pool.hpp
 * @brief Every card of the host as one: finding a card by what it holds, and
 *        placing sessions on the least-loaded live card of a model.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/card.hpp>
#include <hc/session.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hc {

/**
 * open_card - open the one card @p selector names
 *
 * A selector is, tried in this order: a card index ("2"), a device path
 * ("/dev/hc/2", "/dev/hc/by-path/pci-0000:01:00.0", "/dev/hc/by-model/stories260K"),
 * a model name ("stories260K"), or the SHA-256 of a card's burned weights
 * (64 hex digits, or a prefix of at least 8 that only one card matches).
 * A model held by several cards opens the least-loaded live one.
 *
 * Errors: ENOENT no card matches, EINVAL an ambiguous SHA-256 prefix, and
 * those of Card::open().
 */
HC_API Card open_card(std::string_view selector);

/**
 * Pool - the host's cards, used as one.
 *
 * A pool opens every card the driver exposes and keeps them open.  session()
 * places a new session on the least-loaded live card holding the requested
 * model: live means the driver reports the card "live" (not resetting,
 * failed or removed), least loaded means the fewest sessions for its number
 * of contexts.  A card that is resetting or gone is skipped; one that comes
 * back (or a new one) is picked up by refresh(), which session() also calls
 * when no live card has a free context.  One card's reset or removal never
 * touches sessions on the others.
 *
 * A pool is movable, not copyable; its methods are safe to call from several
 * threads.  Sessions outlive the pool that made them (they hold their card).
 */
class HC_API Pool {
  public:
    /** What the pool knows of one card. */
    struct CardStatus {
        std::string path;        ///< /dev/hc/N
        std::string pci_address; ///< "0000:01:00.0", "" if unknown
        std::string model;       ///< ModelCard::name
        std::string sha256;      ///< SHA-256 of the burned weights, hex
        std::string state;       ///< the driver's "state": live, resetting, failed, dead, gone
        uint32_t sessions = 0;   ///< sessions open on it now (all processes)
        uint32_t n_contexts = 0; ///< sessions it holds at once
    };

    /** Open every card; ENOENT if there is none (driver not loaded or no card). */
    static Pool open();

    Pool(Pool&&) noexcept;
    Pool& operator=(Pool&&) noexcept;
    ~Pool();

    /** Every card, in /dev/hc/N order. */
    std::vector<CardStatus> cards() const;
    /** One model card per distinct model (by SHA-256), in order of first card. */
    std::vector<ModelCard> models() const;
    /**
     * A session on the least-loaded live card holding @p model (a model name
     * or weight SHA-256 as for open_card(); empty = any model).  ENOENT if no
     * live card holds it, EBUSY if every context of those cards is taken.
     */
    Session session(std::string_view model = {});
    /**
     * The open card a session would be placed on for @p model (same rules
     * as session()), for its tokenizer and model card.  ENOENT as session().
     */
    Card card(std::string_view model = {});
    /**
     * Re-scan /dev/hc: open cards added since (a card re-added after its
     * removal is a new node), drop those gone or dead.  A card that was
     * reset stays open and is placed on again once "live": nothing to redo.
     */
    void refresh();

  private:
    struct Impl;
    HC_LOCAL explicit Pool(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace hc
