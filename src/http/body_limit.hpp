#pragma once
// MAX_BODY_BYTES enforced while a request is read, so that every too large body gets a 413.
// RESTinio's own limit makes its parser fail, which drops the connection without an answer
// (curl: "(52) Empty reply from server"). Our parser callbacks instead read a too large body
// and throw it away (or, for a client waiting for "100 Continue", skip it), and mark the request
// with kBodyTooLarge so that its handler answers 413 and closes the connection. No more than
// MAX_BODY_BYTES of a body is ever buffered.
//
// Included by src/http/server.cpp only, after <restinio/all.hpp>: RESTinio builds its parser
// settings with create_parser_settings<Traits::http_methods_mapper_t>(), so a methods mapper type
// of our own selects these callbacks for our server alone.
#include <climits>

namespace conveyor {

// RESTinio's methods, under a type of ours (see above).
struct http_methods : restinio::default_http_methods_t {};

// Set on a request whose body was over the limit and was not kept. No client can send it: a
// field name cannot hold ':'.
inline const char* const kBodyTooLarge = ":conveyor-body-too-large";

namespace body_limit {

inline bool refused(const restinio::impl::http_parser_ctx_t& ctx) {
    return ctx.m_header.has_field(kBodyTooLarge);
}

inline void refuse(restinio::impl::http_parser_ctx_t& ctx) {
    ctx.m_header.set_field(kBodyTooLarge, "1");
    std::string().swap(ctx.m_body);
    ctx.m_chunked_info_block.m_chunks.clear();
}

inline restinio::impl::http_parser_ctx_t& context(http_parser* parser) {
    return *static_cast<restinio::impl::http_parser_ctx_t*>(parser->data);
}

inline bool expects_continue(const restinio::impl::http_parser_ctx_t& ctx) {
    auto value = ctx.m_header.opt_value_of(restinio::http_field::expect);
    if (!value || value->size() != 12)
        return false;
    const char* wanted = "100-continue";
    for (std::size_t i = 0; i < 12; ++i)
        if (std::tolower(static_cast<unsigned char>((*value)[i])) != wanted[i])
            return false;
    return true;
}

inline int on_headers_complete(http_parser* parser) {
    auto& ctx = context(parser);
    ctx.m_leading_headers_completed = true;
    if (parser->content_length == ULLONG_MAX || parser->content_length == 0)
        return 0;
    if (parser->content_length > ctx.m_limits.max_body_size()) {
        refuse(ctx);
        // 1 tells the parser there is no body: the 413 goes out at once, and the client, which
        // sends nothing until it gets "100 Continue", sends nothing.
        return expects_continue(ctx) ? 1 : 0;
    }
    try {
        ctx.m_body.reserve(static_cast<std::size_t>(parser->content_length));
    } catch (const std::exception&) {
        return -1;
    }
    return 0;
}

inline int on_body(http_parser* parser, const char* at, std::size_t length) {
    auto& ctx = context(parser);
    if (refused(ctx))
        return 0;
    // Chunked bodies announce no length: they are cut here.
    if (ctx.m_body.size() + length > ctx.m_limits.max_body_size()) {
        refuse(ctx);
        return 0;
    }
    try {
        ctx.m_body.append(at, length);
    } catch (const std::exception&) {
        return -1;
    }
    return 0;
}

inline int on_chunk_header(http_parser* parser) {
    return refused(context(parser)) ? 0 : restinio::impl::restinio_chunk_header_cb(parser);
}

} // namespace body_limit
} // namespace conveyor

namespace restinio::impl {

template <> inline http_parser_settings create_parser_settings<conveyor::http_methods>() noexcept {
    auto settings = create_parser_settings<restinio::default_http_methods_t>();
    settings.on_headers_complete = conveyor::body_limit::on_headers_complete;
    settings.on_body = conveyor::body_limit::on_body;
    settings.on_chunk_header = conveyor::body_limit::on_chunk_header;
    return settings;
}

} // namespace restinio::impl
