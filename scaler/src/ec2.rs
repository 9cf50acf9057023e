//! The EC2 fleet: workers are instances launched from the worker image (`ami-build/`), found by
//! their role tag, started with user data that configures and starts `recog worker`.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IamInstanceProfileSpecification, Instance, InstanceStateName, InstanceType,
    ResourceType, Tag, TagSpecification,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::control::{Census, Fleet};

/// The tag that marks recog's worker instances; its value is the fleet's role.
pub const ROLE_TAG: &str = "recog-role";

/// What each worker instance is launched with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The worker image.
    pub ami: String,
    /// The instance type.
    pub instance_type: String,
    /// The subnet, or the default VPC's.
    pub subnet: Option<String>,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// The instance profile granting the worker's IAM role (`aws/iam/worker.json`).
    pub instance_profile: Option<String>,
    /// The user data script, as text; it is base64-encoded here.
    pub user_data: String,
    /// This fleet's value of the role tag.
    pub role: String,
}

/// Worker instances on EC2.
#[derive(Debug, Clone)]
pub struct Ec2Fleet {
    client: Client,
    launch: Launch,
}

impl Ec2Fleet {
    /// A fleet launching with `launch`, through a client made from `config`.
    pub fn new(config: &aws_types::SdkConfig, launch: Launch) -> Self {
        Self {
            client: Client::new(config),
            launch,
        }
    }

    /// The fleet's pending and running instances, newest first.
    pub async fn instances(&self) -> Result<Vec<Instance>, String> {
        let role = Filter::builder()
            .name(format!("tag:{ROLE_TAG}"))
            .values(&self.launch.role)
            .build();
        let states = Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .build();
        let mut pages = self
            .client
            .describe_instances()
            .filters(role)
            .filters(states)
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(describe)?;
            instances.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances().iter().cloned()),
            );
        }
        instances.sort_by_key(|i| std::cmp::Reverse(i.launch_time().map(|t| t.as_nanos())));
        Ok(instances)
    }

    async fn launch(&self, count: usize, first_number: usize) -> Result<(), String> {
        let ids: Vec<String> = (0..count)
            .map(|i| format!("recog-worker-{}", first_number + i))
            .collect();
        for name in ids {
            let tags = TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value(name).build())
                .tags(
                    Tag::builder()
                        .key(ROLE_TAG)
                        .value(&self.launch.role)
                        .build(),
                )
                .build();
            let mut request = self
                .client
                .run_instances()
                .image_id(&self.launch.ami)
                .instance_type(InstanceType::from(self.launch.instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .user_data(STANDARD.encode(&self.launch.user_data))
                .tag_specifications(tags)
                .set_subnet_id(self.launch.subnet.clone())
                .set_security_group_ids(Some(self.launch.security_groups.clone()));
            if let Some(profile) = &self.launch.instance_profile {
                request = request.iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .name(profile)
                        .build(),
                );
            }
            request.send().await.map_err(describe)?;
        }
        Ok(())
    }
}

fn describe(error: impl std::error::Error) -> String {
    recog_transport::chain(&error)
}

fn state(instance: &Instance) -> Option<&InstanceStateName> {
    instance.state().and_then(|s| s.name())
}

#[async_trait]
impl Fleet for Ec2Fleet {
    async fn census(&self) -> Result<Census, String> {
        let instances = self.instances().await?;
        let running = instances
            .iter()
            .filter(|i| state(i) == Some(&InstanceStateName::Running))
            .count();
        // Limitation: EC2 cannot tell which instances are mid-batch; a terminated instance's
        // worker drains on SIGTERM, and the visibility timeout redelivers what it could not.
        Ok(Census {
            pending: instances.len() - running,
            running,
            busy: 0,
        })
    }

    async fn scale_to(&self, desired: usize) -> Result<(), String> {
        let instances = self.instances().await?;
        if desired > instances.len() {
            return self
                .launch(desired - instances.len(), instances.len() + 1)
                .await;
        }
        // Pending instances go first, then the newest running ones.
        let mut surplus: Vec<&Instance> = instances.iter().collect();
        surplus.sort_by_key(|i| state(i) == Some(&InstanceStateName::Running));
        let ids: Vec<String> = surplus
            .iter()
            .take(instances.len() - desired)
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.client
            .terminate_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .map_err(describe)?;
        Ok(())
    }
}
