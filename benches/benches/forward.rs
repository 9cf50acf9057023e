//! The bare forward pass per backend and batch size, in images per second. The fastest batch
//! size per image is each backend's default chunk (`BackendKind::default_chunk`).

mod common;

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use recog_models::{BackendKind, Model, preprocess};

const BATCH_SIZES: [usize; 5] = [1, 2, 4, 10, 32];

fn forward(c: &mut Criterion) {
    let spec = common::manifest().preprocess;
    let tensors: Vec<Vec<f32>> = common::course_images()
        .iter()
        .map(|image| preprocess::tensor(image, &spec).unwrap())
        .collect();

    let mut group = c.benchmark_group("forward");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    for kind in [BackendKind::Ort, BackendKind::Tch] {
        for size in BATCH_SIZES {
            // One backend call per iteration: the chunk is the whole batch.
            let mut model =
                Model::load(common::manifest(), &common::options(kind), Some(size)).unwrap();
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(
                BenchmarkId::new(kind.to_string(), size),
                &size,
                |b, &size| {
                    b.iter_batched(
                        || tensors[..size].to_vec(),
                        |batch| model.classify(&batch).unwrap(),
                        BatchSize::LargeInput,
                    )
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
