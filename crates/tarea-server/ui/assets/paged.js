// A "Load more" list over a cursor feed (see api.js cursorFeed): it reads the first page or
// the next one, shows a failed read in the page's banner, and draws again only when what it
// holds changed (a live refresh that finds nothing new redraws nothing).
import { cursorFeed } from "./api.js";
import { errorBanner, fill } from "./dom.js";

/** `fetchPage({limit, cursor})` answers `{items, next_cursor}`; `draw(feed)` shows `feed.items`. */
export function pagedList(fetchPage, { banner, body, draw }) {
  const feed = cursorFeed(fetchPage);
  let last = "";
  async function load(more = false) {
    try {
      await (more ? feed.more() : feed.reload());
      fill(banner);
      const key = JSON.stringify([feed.items, feed.next]);
      if (key === last) return;
      last = key;
      draw(feed);
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: () => load() }));
      if (body.querySelector(".loading")) fill(body);
    }
  }
  return { feed, load };
}
