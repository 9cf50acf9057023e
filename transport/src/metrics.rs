//! Every metric recog exports: Prometheus names in base units, described once at start-up.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// HTTP requests answered, by `route` and `status`.
pub const HTTP_REQUESTS: &str = "recog_http_requests_total";
/// Time from request head to response, by `route`.
pub const HTTP_REQUEST_DURATION: &str = "recog_http_request_duration_seconds";
/// Requests waiting for a worker's answer.
pub const INFLIGHT_REQUESTS: &str = "recog_inflight_requests";
/// Responses dropped, by `reason` (`unreadable`; `no_waiter`: late, duplicate or unknown).
pub const RESPONSES_DROPPED: &str = "recog_responses_dropped_total";
/// Time a request spent in the queue before a worker received it.
pub const QUEUE_WAIT: &str = "recog_queue_wait_seconds";
/// Decoding and preprocessing time per image.
pub const PREPROCESS_DURATION: &str = "recog_preprocess_duration_seconds";
/// Forward-pass time per batch, by `backend`.
pub const INFERENCE_DURATION: &str = "recog_inference_duration_seconds";
/// Images per forward pass.
pub const BATCH_SIZE: &str = "recog_batch_size";
/// Images classified, by `backend`.
pub const IMAGES_CLASSIFIED: &str = "recog_images_classified_total";
/// Images refused, by `reason` (`invalid`: not a decodable image; `expired`: past its deadline).
pub const IMAGES_REJECTED: &str = "recog_images_rejected_total";
/// Messages received more than once.
pub const MESSAGES_REDELIVERED: &str = "recog_messages_redelivered_total";
/// Requests given up on after their last allowed delivery.
pub const MESSAGES_DEAD_LETTERED: &str = "recog_messages_dead_lettered_total";
/// Requests in the request queue, by `state` (`visible`, `in_flight`).
pub const QUEUE_DEPTH: &str = "recog_queue_depth";
/// Workers running.
pub const WORKERS: &str = "recog_workers";
/// Workers the scaler wants.
pub const SCALER_DESIRED_WORKERS: &str = "recog_scaler_desired_workers";
/// Workers pending and running, as the scaler counts them.
pub const SCALER_WORKERS: &str = "recog_scaler_workers";
/// Scaling decisions, by `direction` (`out`, `in`, `hold`).
pub const SCALER_DECISIONS: &str = "recog_scaler_decisions_total";

/// Histogram buckets, in seconds, from a tenth of a millisecond to a minute.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0,
];

/// Batch-size buckets: every size a worker takes.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];

/// Registers the help text and unit of every metric with the installed recorder, and starts
/// the counters that may stay quiet for a long time, and the in-flight gauge, at zero, so that
/// they are exported (and `rate()` has a baseline) before their first event.
pub fn describe() {
    for reason in ["invalid", "expired"] {
        metrics::counter!(IMAGES_REJECTED, "reason" => reason).absolute(0);
    }
    for reason in ["unreadable", "no_waiter"] {
        metrics::counter!(RESPONSES_DROPPED, "reason" => reason).absolute(0);
    }
    metrics::counter!(MESSAGES_REDELIVERED).absolute(0);
    metrics::counter!(MESSAGES_DEAD_LETTERED).absolute(0);
    metrics::gauge!(INFLIGHT_REQUESTS).set(0.0);

    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request duration."
    );
    describe_gauge!(INFLIGHT_REQUESTS, "Requests waiting for a worker's answer.");
    describe_counter!(
        RESPONSES_DROPPED,
        "Responses that matched no waiting request."
    );
    describe_histogram!(QUEUE_WAIT, Unit::Seconds, "Time requests spent queued.");
    describe_histogram!(
        PREPROCESS_DURATION,
        Unit::Seconds,
        "Decode and preprocess per image."
    );
    describe_histogram!(INFERENCE_DURATION, Unit::Seconds, "Forward pass per batch.");
    describe_histogram!(BATCH_SIZE, Unit::Count, "Images per forward pass.");
    describe_counter!(IMAGES_CLASSIFIED, "Images classified.");
    describe_counter!(IMAGES_REJECTED, "Images refused, by reason.");
    describe_counter!(MESSAGES_REDELIVERED, "Messages received more than once.");
    describe_counter!(
        MESSAGES_DEAD_LETTERED,
        "Requests given up on after their last delivery."
    );
    describe_gauge!(QUEUE_DEPTH, "Requests in the request queue, by state.");
    describe_gauge!(WORKERS, "Workers running.");
    describe_gauge!(SCALER_DESIRED_WORKERS, "Workers the scaler wants.");
    describe_gauge!(
        SCALER_WORKERS,
        "Workers pending and running, as the scaler counts them."
    );
    describe_counter!(SCALER_DECISIONS, "Scaling decisions, by direction.");
}
