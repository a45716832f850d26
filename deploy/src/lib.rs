//! Deployment: model packages (`*.pwmodel`), the REST scoring server, batch scoring, and cluster job
//! export and submission (Slurm, Ray, Kubernetes). To be filled by the deploy and cluster work.
