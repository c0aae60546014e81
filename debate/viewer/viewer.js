// debate view: draws runs and debates from the JSON inlined in this page.
// Every piece of user text goes through textContent (el / text below), never innerHTML.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const RUNS = DATA.runs, DEBATES = DATA.debates, BITS = DATA.bits, SIZE = DATA.chunk_size;
  const PAGE = 200;  // debate rows drawn at a time
  const app = document.getElementById("app");
  const chunks = new Map();
  const state = { view: "overview", debate: null, turn: null, blind: false, anon: false, mode: "grid", sort: "",
                  filters: { run: "", outcome: "", change: "", unparsed: "", stop: "", agent: "", q: "" } };
  let filtered = null, shown = 0, observer = null;

  // ---- small helpers -------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const pct = (v) => (v === null || v === undefined ? "n/a" : (100 * v).toFixed(1) + "%");
  const share = (part, whole) => part + "/" + whole + " (" + pct(whole ? part / whole : null) + ")";
  const num = (v) => (v === null || v === undefined ? "n/a" : Number(v).toLocaleString("en-US"));
  const hidden = () => el("span", { class: "hidden-value", text: "hidden (blind reading)" });
  const table = (header, rows, cls) => el("div", { class: "scroll" }, el("table", { class: cls },
    el("thead", {}, el("tr", {}, header.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => (c instanceof Node && c.tagName === "TD")
      ? c : el("td", { class: typeof c === "number" ? "num" : null }, c)))))));
  const kv = (pairs) => el("table", { class: "kv" }, el("tbody", {},
    pairs.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", {}, v)))));
  function letters(i) { let s = ""; i += 1; while (i > 0) { s = String.fromCharCode(65 + (i - 1) % 26) + s; i = Math.floor((i - 1) / 26); } return s; }

  // ---- anonymised names ------------------------------------------------------------
  const MODELS = [...new Set(RUNS.flatMap((r) => r.summary.models))];
  const modelName = (m) => (state.anon ? "model " + (MODELS.indexOf(m) + 1 || "?") : m);
  const agentName = (name, order) => (state.anon ? "Agent " + letters(Math.max(0, order.indexOf(name))) : name);
  function anonText(text, order) {  // agent and model names inside messages, when anonymised
    if (!state.anon) return text;
    const names = order.map((n, i) => [n, "Agent " + letters(i)])
      .concat(MODELS.map((m, i) => [m, "model " + (i + 1)]))
      .filter(([n]) => n).sort((a, b) => b[0].length - a[0].length);
    for (const [name, label] of names) text = text.split(name).join(label);
    return text;
  }

  // ---- data access -----------------------------------------------------------------
  async function unpack(k) {  // a chunk of debate details: gzip-compressed JSON in base64
    const bytes = Uint8Array.from(atob(document.getElementById("chunk-" + k).textContent.trim()), (c) => c.charCodeAt(0));
    const text = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    const chunk = JSON.parse(text);
    for (const d of chunk.debates) d.turns = d.turns.map((t) => Object.assign({}, DATA.turn_defaults, t));
    return chunk;
  }
  async function detail(index) {
    const k = Math.floor(index / SIZE);
    if (!chunks.has(k)) chunks.set(k, unpack(k));
    const chunk = await chunks.get(k);
    return { d: chunk.debates[index % SIZE], str: chunk.strings };
  }
  // a debate is addressed by its question id (#debate=q1), or by its trace id (older links)
  const byId = new Map();
  for (const key of ["qid", "id"]) DEBATES.forEach((row, i) => {
    if (!byId.has(row.run + "\u0000" + row[key])) byId.set(row.run + "\u0000" + row[key], i);
    if (!byId.has(row[key])) byId.set(row[key], i);
  });
  function debateHash(i, turn, mode) {
    const row = DEBATES[i], params = new URLSearchParams();
    params.set("debate", row.qid);
    if (RUNS.length > 1) params.set("run", String(row.run));
    if ((mode || state.mode) === "transcript") params.set("mode", "transcript");
    if (turn) params.set("turn", turn);
    return "#" + params.toString();
  }

  const { lineChart, scatter, runColour, swatch } = debateCharts(el, pct);

  // ---- overview --------------------------------------------------------------------
  function runOverview(run, k) {
    const s = run.summary, runs = s.invocations || 1;
    const agents = s.agents.map((a) => a.agent);
    const rows = [
      ["protocol", s.protocol || "-"],
      ["models", s.models.map(modelName).join(", ") || "-"],
      ["debates", s.questions === null ? s.debates + " (" + s.scored + " with gold)"
        : s.debates + "/" + s.questions + " finished (" + s.scored + " with gold)"
          + (s.unfinished ? "; " + s.unfinished + " unfinished, not in the accuracy" : "")],
      ["final accuracy", pct(s.accuracy) + " (" + s.correct + "/" + s.scored + " scored"
        + (s.accuracy_interval ? "; 95% CI " + pct(s.accuracy_interval[0]) + "–" + pct(s.accuracy_interval[1]) : "") + ")"],
      ["round-0 majority vote", pct(s.vote_accuracy)],
      ["consensus rate", pct(s.consensus_rate) + " (of " + s.consensus_debates + ")"],
      ["unparsed answers", share(s.unparsed_answers, s.answers)],
      ["fallback-parsed answers", share(s.fallback_answers, s.answers)],
      ["calls", num(s.calls) + " (" + num(s.cached_calls) + " replayed from cache)"],
      ["tokens", num(s.prompt_tokens) + " prompt + " + num(s.completion_tokens) + " completion"],
      ["cost", s.cost === null ? "unknown (a model has no price)" : "$" + s.cost.toFixed(4)],
    ];
    if (s.wall_time !== null) rows.push(["wall time", s.wall_time.toFixed(1) + " s (last invocation)"
      + (runs > 1 ? "; " + (s.total_wall_time || 0).toFixed(1) + " s over all " + runs + " invocations" : "")]);
    if (s.requests !== null) rows.push(["requests sent", s.requests + " (" + s.retries + " retries, last invocation)"]);
    const errors = Object.entries(s.errors || {});
    if (errors.length) rows.push(["failed attempts", errors.map(([e, n]) => e + ": " + n).join(", ")]);
    const failed = Object.entries(s.failed || {});
    if (failed.length) rows.push(["failed debates", failed.length + " (re-run to retry)"]);
    if (s.stopped) rows.push(["stopped", s.stopped]);
    const rounds = s.rounds.map((r) => r.round);
    return el("section", { class: "run", id: "run-" + k, style: RUNS.length > 1 ? "border-left: 5px solid " + runColour(k) : null },
      el("h2", { class: "run-name" }, RUNS.length > 1 ? swatch(k) : null, run.name), el("p", { class: "meta", text: run.path }),
      kv(rows.map(([a, b]) => [a, b])),
      el("h3", { text: "Accuracy per round" }),
      lineChart([{ name: "majority vote", points: s.rounds.map((r) => [r.round, r.majority_accuracy]) },
                 { name: "mean agent", points: s.rounds.map((r) => [r.round, r.agent_accuracy]) }], rounds, "round"),
      el("h3", { text: "Per round" }),
      table(["round", "debates", "majority acc.", "agent acc.", "unparsed", "fallback", "changed", "right→wrong", "wrong→right"],
        s.rounds.map((r) => [r.round, r.debates, pct(r.majority_accuracy), pct(r.agent_accuracy),
          pct(r.answers ? r.unparsed / r.answers : null), pct(r.answers ? r.fallback / r.answers : null),
          r.changed, r.right_to_wrong, r.wrong_to_right]), "rounds"),
      el("h3", { text: "Per agent" }),
      table(["agent", "answers", "unparsed", "fallback", "changed", "right→wrong", "wrong→right"],
        s.agents.map((a) => [agentName(a.agent, agents), a.answers, a.unparsed, a.fallback, a.changed,
          a.right_to_wrong, a.wrong_to_right]), "agents"),
      failed.length ? [el("h3", { text: "Failed debates" }),
        el("ul", {}, failed.map(([q, e]) => el("li", {}, el("code", { text: q }), ": " + e)))] : null,
      el("details", {}, el("summary", { text: "config" }), state.anon ? hidden()
        : el("pre", { class: "block", text: JSON.stringify(run.config, null, 2) })));
  }

  function comparison() {
    let axis = "calls";
    const box = el("div", {});
    function draw() {
      const points = RUNS.map((run) => {
        const s = run.summary, per = s.debates ? (axis === "calls" ? s.calls : s.prompt_tokens + s.completion_tokens) / s.debates : 0;
        return { label: run.name, x: per, y: s.accuracy, low: s.accuracy_interval ? s.accuracy_interval[0] : null,
                 high: s.accuracy_interval ? s.accuracy_interval[1] : null };
      });
      box.replaceChildren(scatter(points, axis + " per debate"));
    }
    const pick = el("select", { onchange: (e) => { axis = e.target.value; draw(); } },
      el("option", { value: "calls", text: "calls per debate" }), el("option", { value: "tokens", text: "tokens per debate" }));
    draw();
    return el("section", { id: "compare" }, el("h2", { text: "Runs side by side" }),
      table(["run", "protocol", "models", "debates", "final accuracy", "round-0 vote", "consensus", "calls / debate", "tokens / debate", "cost"],
        RUNS.map((run) => {
          const s = run.summary, d = s.debates || 1;
          return [el("td", { class: "run-name", title: run.name }, swatch(RUNS.indexOf(run)), run.name),
            s.protocol || "-", s.models.map(modelName).join(", "), s.debates, pct(s.accuracy),
            pct(s.vote_accuracy), pct(s.consensus_rate), (s.calls / d).toFixed(2),
            ((s.prompt_tokens + s.completion_tokens) / d).toFixed(0), s.cost === null ? "unknown" : "$" + s.cost.toFixed(4)];
        }), "compare"),
      el("h3", {}, "Final accuracy against compute ", pick), box,
      el("p", { class: "note", text: "Whiskers: 95% Wilson interval of the final accuracy." }));
  }

  function overview() {
    return [RUNS.length > 1 ? comparison() : null,
      el("div", { class: "runs" }, RUNS.map(runOverview)),
      el("h2", { text: "Definitions" }),
      el("dl", {}, Object.entries(DATA.definitions).map(([k, v]) => [el("dt", {}, el("b", { text: k })), el("dd", { text: v })]))];
  }

  // ---- debate list -----------------------------------------------------------------
  // the list keeps the runs' order (traces.jsonl, as results.csv counts it) unless sorted
  const correctness = (row) => (row.ok === true ? 0 : row.ok === false ? 1 : 2);
  const SORTS = {
    "": null,
    qid: (a, b) => a.qid.localeCompare(b.qid, "en", { numeric: true }),
    wrong: (a, b) => (correctness(b) % 2) - (correctness(a) % 2) || correctness(a) - correctness(b),
    right: (a, b) => correctness(a) - correctness(b),
    flips: (a, b) => (b.flips || 0) - (a.flips || 0),
    calls: (a, b) => b.calls - a.calls,
  };
  const SORT_NAMES = [["", "run order"], ["qid", "question id"], ["wrong", "incorrect first"],
    ["right", "correct first"], ["flips", "most answer flips"], ["calls", "most calls"]];
  const GOLD_SORTS = new Set(["wrong", "right"]);  // they would reveal correctness when blind
  function matches(row) {
    const f = state.filters;
    if (f.run !== "" && String(row.run) !== f.run) return false;
    const blind = state.blind;  // reading blind: no filter may reveal correctness
    if (!blind && f.outcome === "correct" && row.ok !== true) return false;
    if (!blind && f.outcome === "incorrect" && row.ok !== false) return false;
    if (!blind && f.outcome === "nogold" && row.ok !== null) return false;
    if (f.stop && row.stop !== f.stop) return false;
    let mask = 0;
    if (f.agent) {
      const at = row.agents.indexOf(f.agent);
      if (at < 0) return false;
      mask = row.flags[at];
    } else for (const m of row.flags) mask |= m;
    if (f.change === "changed" && !(mask & BITS.changed)) return false;
    if (f.change === "unchanged" && (mask & BITS.changed)) return false;
    if (!blind && f.change === "up" && !(mask & BITS.up)) return false;
    if (!blind && f.change === "down" && !(mask & BITS.down)) return false;
    if (f.unparsed === "yes" && !(mask & BITS.unparsed)) return false;
    if (f.unparsed === "no" && (mask & BITS.unparsed)) return false;
    if (f.q) {
      if (row._s === undefined) row._s = (row.qid + "\n" + row.text).toLowerCase();
      if (!row._s.includes(f.q)) return false;
    }
    return true;
  }

  function listRow(i) {
    const row = DEBATES[i], blind = state.blind;
    let mask = 0;
    for (const m of row.flags) mask |= m;
    const marks = (mask & BITS.up ? "↑" : "") + (mask & BITS.down ? "↓" : "") + (mask & BITS.changed ? "↻" : "") + (mask & BITS.unparsed ? "?" : "");
    const ok = row.ok === null ? "-" : row.ok ? "yes" : "no";
    return el("tr", { class: "row", "data-index": i, onclick: () => { location.hash = debateHash(i); } },
      RUNS.length > 1 ? el("td", { class: "run-name", title: RUNS[row.run].name }, swatch(row.run), RUNS[row.run].name) : null,
      el("td", {}, el("a", { href: debateHash(i), text: row.qid })),
      el("td", { class: "q", title: row.text, text: row.text.slice(0, 200) }),
      el("td", {}, blind ? "·" : row.gold === null ? "-" : row.gold),
      el("td", {}, blind ? "·" : row.vote0 === null ? "unparsed" : row.vote0),
      el("td", {}, blind ? "·" : row.final === null ? "unparsed" : row.final),
      el("td", { class: blind ? null : ok }, blind ? "·" : ok),
      el("td", { class: "num", text: row.rounds }), el("td", { class: "num", text: row.calls }),
      el("td", { class: "num", text: row.tokens }), el("td", { text: row.stop }),
      el("td", { class: "num", text: row.flips === undefined ? "-" : row.flips }),
      el("td", { title: "↑ wrong→right, ↓ right→wrong, ↻ changed, ? unparsed", text: blind ? "" : marks }));
  }

  function appendRows(body, more) {
    const end = Math.min(filtered.length, shown + PAGE);
    for (; shown < end; shown++) body.append(listRow(filtered[shown]));
    more.textContent = shown < filtered.length ? "showing " + shown + " of " + filtered.length + "; scroll for more" : "";
  }

  function debateList() {
    const f = state.filters, agents = [...new Set(DEBATES.flatMap((r) => r.agents))];
    const stops = [...new Set(DEBATES.map((r) => r.stop))].sort();
    const count = el("span", { class: "note", id: "count" });
    const body = el("tbody", { id: "debate-rows" });
    const more = el("div", { class: "more", id: "more" });
    // options that would reveal correctness: off (and ignored by matches) while reading blind
    const GOLD_FILTERS = new Set(["outcome=correct", "outcome=incorrect", "outcome=nogold", "change=up", "change=down"]);
    function select(key, label, options) {
      return el("label", {}, label + " ", el("select", { id: "filter-" + key, onchange: (e) => { f[key] = e.target.value; refresh(); } },
        options.map(([value, text]) => el("option", { value, text, selected: f[key] === value ? "selected" : null,
          disabled: state.blind && GOLD_FILTERS.has(key + "=" + value) ? "disabled" : null }))));
    }
    function refresh() {
      filtered = [];
      for (let i = 0; i < DEBATES.length; i++) if (matches(DEBATES[i])) filtered.push(i);
      const by = SORTS[state.blind && GOLD_SORTS.has(state.sort) ? "" : state.sort];
      if (by) filtered.sort((a, b) => by(DEBATES[a], DEBATES[b]) || a - b);  // ties: run order
      shown = 0;
      body.replaceChildren();
      appendRows(body, more);
      count.textContent = filtered.length + " of " + DEBATES.length + " debates";
    }
    let timer = null;
    const search = el("input", { type: "search", id: "filter-q", placeholder: "search question text or id", value: f.q,
      oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => { f.q = e.target.value.trim().toLowerCase(); refresh(); }, 120); } });
    const bar = el("div", { class: "filters" },
      RUNS.length > 1 ? select("run", "run", [["", "all"]].concat(RUNS.map((r, k) => [String(k), r.name]))) : null,
      select("outcome", "final", [["", "all"], ["correct", "correct"], ["incorrect", "incorrect"], ["nogold", "no gold"]]),
      select("change", "answers", [["", "all"], ["changed", "flipped (changed)"], ["up", "toward gold (wrong→right)"],
        ["down", "away from gold (right→wrong)"], ["unchanged", "never changed"]]),
      select("unparsed", "unparsed", [["", "all"], ["yes", "some unparsed"], ["no", "none unparsed"]]),
      select("stop", "stop", [["", "all"]].concat(stops.map((s) => [s, s]))),
      select("agent", "agent", [["", "any"]].concat(agents.map((a) => [a, state.anon ? "Agent " + letters(agents.indexOf(a)) : a]))),
      el("label", {}, "sort ", el("select", { id: "sort", onchange: (e) => { state.sort = e.target.value; refresh(); } },
        SORT_NAMES.map(([value, text]) => el("option", { value, text, selected: state.sort === value ? "selected" : null,
          disabled: state.blind && GOLD_SORTS.has(value) ? "disabled" : null })))),
      search, count);
    const head = ["question", "text", "gold", "round-0 vote", "final", "correct", "rounds", "calls", "tokens", "stop", "flips", "changes"];
    const list = el("table", { class: "list" }, el("thead", {}, el("tr", {},
      (RUNS.length > 1 ? ["run"] : []).concat(head).map((h) => el("th", { text: h })))), body);
    refresh();
    if (observer) observer.disconnect();
    observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && shown < filtered.length) appendRows(body, more);
    });
    observer.observe(more);
    return [el("h2", { text: "Debates" }), bar, list, more];
  }

  // ---- one debate ------------------------------------------------------------------
  function answerLabel(t) {
    if (state.blind) return "answer";
    return t.answer === null ? "unparsed" : t.answer;
  }
  function chip(t, order, selected, i) {
    const isAnswer = "ok" in t;
    let cls = "chip other";
    if (isAnswer) cls = "chip " + (t.answer === null ? "unparsed" : state.blind || t.ok === null ? "other" : t.ok ? "right" : "wrong");
    if (t.id === selected) cls += " selected";
    const label = isAnswer ? answerLabel(t) : t.kind + (t.step ? " (" + t.step + ")" : "")
      + (t.answer !== null && !state.blind ? ": " + t.answer : "");
    // the address names the turn as shown: anonymised, it holds no agent name
    const node = el("a", { class: cls, href: debateHash(i, anonText(t.id, order)), "data-turn": t.id, title: anonText(t.id, order) }, label);
    if (isAnswer && t.from === "fallback" && !state.blind) node.append(el("span", { class: "conf", title: "read by a fallback rule", text: "≈" }));
    if (isAnswer && t.changed && !state.blind)
      node.append(el("span", { class: "flip", title: "changed from the previous answer" + (t.dir ? (t.dir === "up" ? ": wrong→right" : ": right→wrong") : ""),
        text: t.dir === "up" ? "↑" : t.dir === "down" ? "↓" : "↻" }));
    if (t.conf != null && !state.blind) node.append(el("span", { class: "conf", title: "confidence", text: t.conf.toFixed(2) }));
    return node;
  }

  function turnDetail(t, d, str, order, i) {
    const isAnswer = "ok" in t, blind = state.blind;
    const byId = new Map(d.turns.map((x) => [x.id, x]));
    const rows = [
      ["turn", anonText(t.id, order)], ["agent", agentName(t.agent, order) + " (" + t.role + ")"], ["kind", t.kind + (t.step ? ", step " + t.step : "")],
      ["model", modelName(t.model)],
      ["answer", blind ? hidden() : t.answer === null ? el("span", { class: "error", text: "unparsed (no answer could be read)" }) : t.answer],
      ["parsed", t.from ? t.from + (t.rule ? " (rule " + t.rule + ")" : "") : "-"],
    ];
    if (isAnswer) {
      rows.push(["correct", blind ? hidden() : t.ok === null ? "- (no gold)" : t.ok ? "yes" : "no"]);
      if (t.prev) rows.push(["previous answer", blind ? hidden() : (byId.get(t.prev).answer ?? "unparsed") + " (" + anonText(t.prev, order) + ")"
        + (t.changed ? "; changed" + (t.dir === "up" ? ", wrong→right" : t.dir === "down" ? ", right→wrong" : "") : "; unchanged")]);
    }
    if (t.conf != null) rows.push(["confidence", blind ? hidden() : t.conf.toFixed(3)]);
    rows.push(["tokens", t.pt + " prompt + " + t.ct + " completion"],
      ["latency", t.lat.toFixed(3) + " s" + (t.cached ? " (replayed from the cache)" : "")],
      ["finish reason", t.fin || "-"]);
    if (t.logprobs != null) rows.push(["logprobs", t.logprobs + " tokens"]);
    if (t.error) rows.push(["error", el("span", { class: "error", text: t.error })]);
    rows.push(["saw", t.saw.length ? t.saw.map((id) => el("a", { class: "chip other", href: debateHash(i, anonText(id, order)), text: anonText(id, order) })) : "no other turn"]);
    const fields = Object.entries(t.fields).filter(([k]) => !(blind && /answer|verdict|winner/i.test(k)));
    return el("section", { class: "detail", id: "turn-detail" },
      el("h3", { text: "Turn " + anonText(t.id, order) }), kv(rows),
      fields.length ? [el("h3", { text: "Parsed fields" }), kv(fields.map(([k, v]) =>
        [k, el("pre", { text: anonText(typeof v === "string" ? v : JSON.stringify(v, null, 2), order) })]))] : null,
      el("h3", { text: "Messages sent (" + t.m.length + ")" }),
      el("div", { id: "messages" }, t.m.map(([role, s]) => el("div", { class: "msg" }, el("div", { class: "role", text: role }),
        el("pre", { class: "block", text: anonText(str[s], order) })))),
      el("h3", { text: "Raw reply" }), el("pre", { class: "block", id: "raw", text: anonText(str[t.raw], order) }));
  }

  // the whole debate in order: who spoke, in which round, what was parsed, what it saw
  function transcript(d, str, order, i, selected) {
    const ids = new Set(d.turns.map((t) => t.id));
    const privates = d.turns.filter((t) => t.private).length;
    return el("section", { id: "transcript" },
      el("h3", { text: "Transcript (" + d.turns.length + " turns, in order)" }),
      el("p", { class: "note", text: "Each turn: its agent, round and kind, the answer parsed from it, the turns its "
        + "prompt showed it (saw), and its reply. Marked private: turns never shown to the other agents "
        + "(a stated confidence, a judge's probe, a sample that did not continue the debate)"
        + (privates ? "; " + privates + " here." : "; none here.") }),
      el("ol", { class: "transcript" }, d.turns.map((t, n) => {
        const head = el("div", { class: "turn-head" },
          el("b", { class: "who", text: agentName(t.agent, order) }),
          el("span", { class: "where", text: "round " + t.round + " · " + t.kind + (t.step ? " (" + t.step + ")" : "") }),
          chip(t, order, selected, i),
          t.private ? el("span", { class: "private-mark", title: t.private, text: "private" }) : null);
        const saw = el("div", { class: "saw" }, "saw: ", t.saw.length ? t.saw.map((id) => ids.has(id)
          ? el("a", { class: "chip other saw-link", href: debateHash(i, anonText(id, order)), text: anonText(id, order) })
          : el("span", { text: anonText(id, order) })) : el("span", { class: "note", text: "no other turn" }));
        return el("li", { class: "turn" + (t.private ? " private" : ""), id: "turn-" + (n + 1), "data-id": t.id },
          head, t.private ? el("div", { class: "note private-why", text: "Private: " + t.private }) : null, saw,
          el("pre", { class: "block reply", text: anonText(str[t.raw], order) }));
      })));
  }

  async function debateView(i, asked) {
    const row = DEBATES[i], { d, str } = await detail(i), blind = state.blind;
    const order = d.agents.map((a) => a.name);
    for (const t of d.turns) if (!order.includes(t.agent)) order.push(t.agent);
    // a turn is addressed by its id, or by its anonymised id (links made while anonymised)
    const found = asked ? d.turns.find((t) => t.id === asked || anonText(t.id, order) === asked) : null;
    const turnId = found ? found.id : asked;
    const rounds = [...new Set(d.turns.map((t) => t.round))].sort((a, b) => a - b);
    const cells = new Map();
    for (const t of d.turns) {
      const key = t.agent + "\u0000" + t.round;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(t);
    }
    const grid = el("table", { class: "grid", id: "grid" },
      el("thead", {}, el("tr", {}, el("th", { text: "agent" }), rounds.map((r) => el("th", { text: "round " + r })))),
      el("tbody", {}, order.map((name) => {
        const info = d.agents.find((a) => a.name === name);
        return el("tr", {}, el("th", { title: info ? modelName(info.model) : "" }, agentName(name, order),
          info ? el("div", { class: "note", text: info.role + " · " + modelName(info.model) }) : null),
        rounds.map((r) => el("td", {}, (cells.get(name + "\u0000" + r) || []).map((t) => chip(t, order, turnId, i)))));
      })));
    const f = d.final, q = [
      ["question id", row.qid], ["run", RUNS[row.run].name], ["protocol", row.protocol], ["task", d.task],
      ["gold", blind ? hidden() : row.gold === null ? "- (none)" : row.gold],
      ["final answer", blind ? hidden() : (f.answer === null ? "unparsed / none" : f.answer) + " (" + f.method + ")"],
      ["correct", blind ? hidden() : row.ok === null ? "-" : row.ok ? "yes" : "no"],
      ["votes", blind ? hidden() : Object.entries(f.votes).map(([a, v]) => a + ": " + v).join(", ") || "-"],
      ["stop reason", row.stop], ["calls", row.calls], ["tokens", row.tokens]];
    if (f.tie_break) q.push(["tie break", blind ? hidden() : f.tie_break]);
    if (d.orders) q.push(["judge's two orders", blind ? hidden() : el("span", { id: "judge-orders", text: d.orders })]);
    const details = Object.entries(f.details || {});
    const turn = found;
    const others = d.turns.filter((t) => !("ok" in t));
    return [
      el("p", {}, el("a", { href: "#view=debates", text: "← all debates" })),
      el("h2", { text: "Debate " + row.qid }),
      el("pre", { class: "question block", id: "question", text: anonText(row.text, order) }),
      d.context === null ? null : el("details", {}, el("summary", { text: "context" }), el("pre", { class: "block", text: str[d.context] })),
      d.choices ? el("ol", { type: "A" }, d.choices.map((c) => el("li", { text: c }))) : null,
      el("div", { class: "debate-top" },
        el("div", {}, kv(q),
          details.length ? el("details", { open: "open" }, el("summary", { text: "how the final answer was reached" }),
            blind ? hidden() : kv(details.map(([k, v]) => [k, el("pre", { text: anonText(typeof v === "string" ? v : JSON.stringify(v, null, 2), order) })]))) : null,
          el("details", {}, el("summary", { text: "protocol config" }),
            el("pre", { class: "block", text: JSON.stringify(d.protocol_config || RUNS[row.run].protocol_config, null, 2) }))),
        el("div", { class: "grid-box" },
          el("p", { class: "modes" }, "read as: ",
            el("a", { id: "mode-grid", class: state.mode === "grid" ? "current" : null, href: debateHash(i, turnId, "grid") }, "agents × rounds"), " · ",
            el("a", { id: "mode-transcript", class: state.mode === "transcript" ? "current" : null,
              href: debateHash(i, turnId, "transcript") }, "transcript")),
          state.mode === "transcript" ? null : [
          el("h3", { text: "Agents × rounds" }),
          el("p", { class: "note", text: blind ? "Blind reading: answers and correctness hidden." :
            "Green: right, red: wrong, purple: unparsed (never counted as an answer). ↻ changed, ↑ wrong→right, ↓ right→wrong, ≈ fallback-parsed; a number is the confidence. Click a cell for exactly what that call sent and got." }),
          el("div", { class: "grid-wrap" }, grid)])),
      turn ? turnDetail(turn, d, str, order, i) : turnId ? el("p", { class: "error", text: "no turn " + anonText(turnId, order) + " in this debate" }) : null,
      state.mode === "transcript" ? transcript(d, str, order, i, turnId) : null,
      others.length && state.mode !== "transcript" ? [el("h3", { text: "Critiques, reviews, verdicts (" + others.length + ")" }),
        el("ul", { id: "others" }, others.map((t) => el("li", {}, chip(t, order, turnId, i), " ", agentName(t.agent, order) + ", round " + t.round,
          Object.keys(t.fields).length && !blind ? el("pre", { text: anonText(Object.entries(t.fields)
            .map(([k, v]) => k + ": " + (typeof v === "string" ? v : JSON.stringify(v))).join("\n"), order) }) : null)))] : null,
    ];
  }

  // ---- routing ---------------------------------------------------------------------
  let renders = 0;
  async function render() {
    const mine = ++renders;
    const params = new URLSearchParams(location.hash.slice(1));
    state.blind = params.get("blind") === "1" || document.getElementById("blind").checked;
    state.anon = params.get("anon") === "1" || document.getElementById("anon").checked;
    state.mode = params.get("mode") === "transcript" ? "transcript" : "grid";
    document.getElementById("blind").checked = state.blind;
    document.getElementById("anon").checked = state.anon;
    const id = params.get("debate");
    let content;
    if (id !== null) {
      const run = params.get("run");
      const i = byId.get(run !== null ? run + "\u0000" + id : id);
      content = i === undefined ? el("p", { class: "error", text: "no debate " + id + " in this file" }) : await debateView(i, params.get("turn"));
      if (mine !== renders) return;  // a later navigation won
      state.view = "debate";
    } else {
      state.view = params.get("view") === "debates" ? "debates" : "overview";
      content = state.view === "debates" ? debateList() : overview();
    }
    for (const v of ["overview", "debates"])
      document.getElementById("nav-" + v).className = state.view === v ? "current" : "";
    app.replaceChildren(...[content].flat(2).filter(Boolean));
    const detailPanel = document.getElementById("turn-detail");
    if (detailPanel) detailPanel.scrollIntoView({ block: "nearest" });
  }
  for (const box of ["blind", "anon"]) document.getElementById(box).addEventListener("change", () => {
    const params = new URLSearchParams(location.hash.slice(1));
    params.delete(box);
    if (document.getElementById(box).checked) params.set(box, "1");
    const hash = "#" + params.toString();
    if (hash === location.hash || (hash === "#" && !location.hash)) render().catch(fail); else location.hash = hash;
  });
  window.addEventListener("hashchange", () => { render().catch(fail); });
  function fail(error) {
    app.replaceChildren(el("p", { class: "error", text: "could not draw this view: " + error }));
    throw error;
  }
  render().then(() => {
    performance.mark("debate-view-painted");
    document.body.setAttribute("data-ready", "1");
  }, fail);
})();
