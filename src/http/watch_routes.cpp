#include "http/watch_routes.hpp"

#include "http/static_files.hpp"
#include "metrics/metrics.hpp"

namespace conveyor {

namespace {

const StaticFile* find_file(const std::string& path) {
    for (const auto& f : static_files())
        if (path == f.path)
            return &f;
    return nullptr;
}

} // namespace

void add_watch_routes(restinio::router::express_router_t<>& router, WatchDeps deps) {
    auto d = std::make_shared<WatchDeps>(std::move(deps));
    router.http_get("/metrics", [d](auto req, auto) {
        if (!d->authorized(req))
            return restinio::request_accepted();
        d->reply(req, HttpReply{200,
                                metrics::scrape(d->subscribers->load()),
                                {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}});
        return restinio::request_accepted();
    });
    router.http_get("/openapi.json", [d](auto req, auto) {
        if (!d->authorized(req))
            return restinio::request_accepted();
        const auto* f = find_file("/openapi.json");
        d->reply(req, HttpReply{200, std::string(f->body), {{"Content-Type", f->content_type}}});
        return restinio::request_accepted();
    });
    router.http_get("/", [d](auto req, auto) {
        d->reply(req, HttpReply{302, "", {{"Location", "/ui/"}, {"Content-Type", "text/plain"}}});
        return restinio::request_accepted();
    });
    // The dashboard's files hold no data: they load without the token, and the page asks for it
    // (SPEC §11) before calling the API.
    auto serve = [d](const restinio::request_handle_t& req, const std::string& name) {
        const auto* f = find_file("/ui/" + name);
        if (!f) {
            d->reply(req, error_reply(404, "not_found", "no dashboard file /ui/" + name));
            return restinio::request_accepted();
        }
        d->reply(req, HttpReply{200,
                                std::string(f->body),
                                {{"Content-Type", f->content_type},
                                 {"Cache-Control", "no-cache"},
                                 {"X-Content-Type-Options", "nosniff"}}});
        return restinio::request_accepted();
    };
    // First /ui/ (the router would match /ui/ to a /ui route too), then /ui sends there.
    router.http_get("/ui/", [serve](auto req, auto) { return serve(req, "index.html"); });
    router.http_get("/ui", [d](auto req, auto) {
        d->reply(req, HttpReply{302, "", {{"Location", "/ui/"}, {"Content-Type", "text/plain"}}});
        return restinio::request_accepted();
    });
    router.http_get("/ui/:file", [serve](auto req, auto params) {
        return serve(req, restinio::cast_to<std::string>(params["file"]));
    });
}

std::string watch_routes_allow(const std::string& path) {
    if (path == "/metrics" || path == "/openapi.json" || path == "/" || path == "/ui" ||
        path.rfind("/ui/", 0) == 0)
        return "GET";
    return "";
}

} // namespace conveyor
