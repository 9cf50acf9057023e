//! Decode, resize, crop and normalise: one image, and a batch of ten with and without rayon.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use recog_models::preprocess;

fn preprocessing(c: &mut Criterion) {
    let images = common::course_images();
    let spec = common::manifest().preprocess;
    let batch: Vec<Vec<u8>> = images.into_iter().take(10).collect();

    let mut group = c.benchmark_group("preprocess");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_image", |b| {
        b.iter(|| preprocess::tensor(&batch[0], &spec).unwrap())
    });

    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_10_sequential", |b| {
        b.iter(|| {
            batch
                .iter()
                .map(|i| preprocess::tensor(i, &spec).unwrap())
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("batch_10_rayon", |b| {
        b.iter(|| {
            batch
                .par_iter()
                .map(|i| preprocess::tensor(i, &spec).unwrap())
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, preprocessing);
criterion_main!(benches);
