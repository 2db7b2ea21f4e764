//! Every fixed bound of the engine, in one place and named one way (`*_MAX`,
//! units before `MAX`), each with its reason, in the spirit of TigerBeetle's
//! `constants.zig`. `docs/ARCHITECTURE.md`'s bounds table points here.
//!
//! Bounds an operator tunes live in the configuration instead
//! (`src/default.toml`: `max_pending_per_shard`, `max_event_ids_per_shard`,
//! `max_in_flight_per_endpoint`, `max_idle_connections_per_endpoint`,
//! `max_connections_per_shard`, `max_body_bytes`, `index_max_per_key`,
//! `shard_channel_capacity`, `response_keep_bytes`); this module holds the
//! ones that are part of the code's design or of a wire format.

// Engine memory

/// Deepest nesting of objects and arrays in a message payload (every way in:
/// API and socket): deeper payloads are refused, since other JSON readers
/// (ours included, serde_json's default) stop at this depth and would read
/// the payload back as nothing.
pub const PAYLOAD_DEPTH_MAX: usize = 128;

/// Most strings one thread's interner holds before it starts afresh: enough
/// for every application id and event type of a large deployment, small
/// enough (a few MiB) that a flood of distinct event types cannot grow it.
pub const INTERNED_STRINGS_MAX: usize = 65_536;

// Journal

/// Most bytes of records a journal stages before it writes them to the
/// file even inside a hold (`Journal::hold`): a batch costs one `pwrite`
/// per this many bytes, and the staging buffer stays this small (one
/// record larger than it is staged whole, then the buffer shrinks back).
pub const JOURNAL_STAGED_BYTES_MAX: u64 = 256 * 1024;
/// Largest size a new segment's file starts at (`journal::segment`): a
/// file starts at a sixteenth of `segment_bytes`, at most this, and doubles
/// ahead of the writer up to `segment_bytes` (its mapping is full length from
/// the start). Small enough that a fresh engine takes a few MiB of disk
/// instead of a full segment per shard (64 MiB each, 4 GiB on 64 cores);
/// large enough that a 64 MiB segment grows only six times. A sixteenth
/// rather than the whole of a small segment, so that the simulator's and
/// the tests' small segments grow through the same code.
pub const SEGMENT_FILE_INITIAL_BYTES_MAX: u64 = 1024 * 1024;

/// The newest bytes of each journal kept in the page cache once durable
/// (`journal::sync`); the kernel is told to drop the rest after each group
/// commit. Reads of recent records (an API read of a message just sent, a
/// retry soon after) stay in memory; older ones read the disk. Enough for
/// seconds of records at the rates most engines see, a fraction of a
/// second at the benchmarks' peak; the journal's page cache stays within
/// this plus what was written since the last sync.
pub const JOURNAL_CACHED_BEHIND_BYTES: u64 = 16 * 1024 * 1024;

/// The journal's page cache is dropped in blocks of this many bytes (one
/// `posix_fadvise` per block, not per group commit: each call drains the
/// kernel's per-CPU page lists); the window above is up to this much
/// larger.
pub const JOURNAL_UNCACHE_STEP_BYTES: u64 = 2 * 1024 * 1024;

// Delivery

/// Buffer sets of ended delivery workers a shard keeps for the next ones
/// (`delivery::exchange::Spares`): each at most 16 KiB of read buffer and
/// `WIRE_SPARE_BYTES_MAX` each of request and unparsed bytes (80 KiB), so
/// at most 20 MiB per shard, ~5 KiB each in the common case (a 1 KiB read
/// buffer that never had to grow, a 4 KiB request buffer).
pub const WIRES_SPARE_MAX: usize = 256;
/// Largest request or unparsed-response buffer a spare keeps; a bigger one
/// (a run of large payloads) is freed with its worker.
pub const WIRE_SPARE_BYTES_MAX: usize = 32 * 1024;

/// Longest honoured `Retry-After`: a receiver may slow its deliveries down,
/// not park them for days.
pub const RETRY_AFTER_MS_MAX: u64 = 3_600_000;
/// Disable requests held until the runtime takes them (it does at its next
/// wake-up, which the request itself causes); past this, a request is
/// dropped and the endpoint's next failure asks again.
pub const DISABLE_REQUESTS_MAX: usize = 1_024;
/// Segment files kept open per journal reader (`reads::files`; each shard
/// has two, its deliveries' cold reads and its API reads): the recent
/// segments a retry storm or a listing reads from, without holding
/// descriptors of every segment.
pub const READ_FILES_OPEN_MAX: usize = 8;
/// DNS lookups waiting for a resolver thread; more fail at once (the
/// attempt retries on its schedule) rather than queue without end behind a
/// slow name server.
pub const RESOLVER_QUEUE_MAX: usize = 1024;
/// Host names kept in the resolver's cache (30 s each).
pub const RESOLVER_CACHE_MAX: usize = 4096;
/// Largest accepted `pipeline_depth`: past it a lost connection costs more
/// re-sent or failed requests than the round trips it saves.
pub const PIPELINE_DEPTH_MAX: usize = 64;
/// Shortest accepted `connect_timeout_ms` and `request_timeout_ms`: a
/// delivery's time limit ends up to 50 ms after it runs out (the shard's
/// timer loop fires them, `delivery::deadlines`), so a shorter one would
/// mostly measure that.
pub const DELIVERY_TIMEOUT_MIN_MS: u64 = 100;

// Delivery: receivers' responses

/// Largest response head (status line plus fields) accepted, in bytes.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest number of header fields in one response head.
pub const RESPONSE_HEADERS_MAX: usize = 64;
/// Longest chunk-size line (size, whitespace and extensions, without CRLF).
pub const CHUNK_LINE_BYTES_MAX: usize = 1024;
/// Largest trailer section of a chunked body, including line endings.
pub const TRAILER_BYTES_MAX: usize = 16 * 1024;
/// Most interim (1xx) responses accepted before the final response.
pub const INTERIM_RESPONSES_MAX: usize = 16;

// Catalog

/// Most keys in an application's or endpoint's `metadata`.
pub const METADATA_KEYS_MAX: usize = 64;
/// Largest `metadata` object, as JSON text: the catalog is held in memory
/// whole and copied on every change.
pub const METADATA_BYTES_MAX: usize = 8 * 1024;
/// Longest endpoint URL.
pub const URL_BYTES_MAX: usize = 2048;
/// Longest PEM text an endpoint's `caCert`, `clientCert` or `clientKey` may be.
pub const ENDPOINT_PEM_BYTES_MAX: usize = 64 * 1024;
/// Most custom headers per endpoint.
pub const ENDPOINT_HEADERS_MAX: usize = 64;
/// Longest header value.
pub const HEADER_VALUE_BYTES_MAX: usize = 4096;
/// Most signing keys an endpoint holds: the current one plus rotated-out
/// keys still in their grace period (the soonest-expiring are dropped first).
pub const ENDPOINT_SECRETS_MAX: usize = 8;
/// Longest grace period a rotation may ask for (`gracePeriodSeconds`).
pub const SECRET_GRACE_SECS_MAX: u32 = 7 * 24 * 3600;

// HTTP API

/// Connections being answered 503 at once because the API is full (each
/// for at most a second); past it a refused connection is just closed.
pub const API_REJECTIONS_IN_FLIGHT_MAX: usize = 64;
/// The buffer of the queue other shards' API connections hand requests
/// (and head checks) to shard 0 through (`api::forward`). Each job is sent
/// through a sender of its own, which futures' channel always admits, so
/// what bounds the jobs waiting is the connections: one each, at most
/// `api_connections_max`.
pub const API_FORWARDED_MAX: usize = 256;
/// Most bytes read and discarded after an error reply, so the client sees
/// the reply instead of a reset, without reading an unbounded body.
pub const API_LINGER_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Largest request head (request line and headers).
pub const API_HEAD_BYTES_MAX: usize = 16 * 1024;
/// Most headers parsed per request.
pub const API_REQUEST_HEADERS_MAX: usize = 64;
/// Most stored answers.
pub const IDEMPOTENCY_KEYS_MAX: usize = 100_000;
/// Most bytes of stored answer bodies.
pub const IDEMPOTENCY_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Longest accepted `idempotency-key` value.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 256;
/// Most background tasks remembered (in memory, oldest finished dropped).
pub const BACKGROUND_TASKS_MAX: usize = 1000;
/// Most messages one recover task journals under a single sync.
pub const RECOVER_BATCH_MAX: usize = 256;

// Read path

/// Most attempt ids remembered per delivery (a retry schedule has at most 64
/// entries; manual resends add more).
pub const ATTEMPTS_PER_DELIVERY_MAX: usize = 256;

// Ingest socket

/// Most concurrent ingest connections.
pub const INGEST_CONNECTIONS_MAX: usize = 256;
/// Batches one connection may have in flight (accepted, not yet acknowledged).
pub const INGEST_BATCHES_IN_FLIGHT_MAX: usize = 16;
/// Largest value of a frame's length field.
pub const INGEST_FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most events in one BATCH, and so results in one ACK.
pub const INGEST_FRAME_EVENTS_MAX: usize = 65_536;
/// Most channels per event; the count travels as a u8.
pub const INGEST_CHANNELS_MAX: usize = u8::MAX as usize;
/// Longest message id in an ACK; the length travels as a u8.
pub const INGEST_MSG_ID_BYTES_MAX: usize = 64;
/// Longest message the encoder puts in an ERROR frame; longer ones are cut.
pub const INGEST_ERROR_MESSAGE_BYTES_MAX: usize = 1024;
/// Most batches sent but not yet acknowledged; bounds the pending and early-ack lists.
pub const INGEST_CLIENT_IN_FLIGHT_MAX: usize = 256;

// Metrics

/// Endpoints each shard names in its snapshot (and the dashboard keeps per
/// sample) as the longest backlogs.
pub const LONGEST_QUEUES_MAX: usize = 5;

/// Largest latency recorded (one hour, in microseconds); larger values saturate.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Body bytes an incoming request's log entry keeps (the rest is counted,
/// not kept): enough for any provider's event, small enough that a logged
/// flood stays a bounded share of the journal.
pub const REQUEST_LOG_BODY_BYTES_MAX: usize = 64 * 1024;

// Notification rules

/// Most notification rules (`/api/v1/rule`): each is evaluated on shard 0
/// every `rule_eval_interval_ms`, some with a query to every shard.
pub const RULES_MAX: usize = 1_000;
/// Engine totals the rule evaluator keeps for scope `all` (one per
/// evaluation: a day at the default 10 s), so a window longer than that
/// many evaluations is judged over what is kept.
pub const RULE_SAMPLES_MAX: usize = 8_640;

// Operational events of catalog changes

/// Events of recent catalog changes kept for resubmission at start (each a
/// few hundred bytes in the catalog, copied with it at every change).
pub const NOTICES_KEPT_MAX: usize = 1_000;
/// How long such an event is kept (and resubmitted at start, if also
/// within `idempotency_window_ms`, so a resubmission is recognised).
pub const NOTICE_KEEP_MS: u64 = 15 * 60 * 1000;

/// What a message in memory costs beside its payload, for the
/// `max_hot_ready_bytes_per_shard` budget (its metadata, shared id and
/// type strings).
pub const HOT_MESSAGE_OVERHEAD_BYTES: u64 = 256;
