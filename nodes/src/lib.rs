//! The Pipewright block catalog: one file per node kind under `data/`, `transform/`, `model/`,
//! `train/`, `evaluate/` and `deploy/`, the algorithms behind the model blocks under `algo/`, and
//! [`catalog`], which registers them all.

pub mod algo;
pub mod data;
pub mod deploy;
pub mod device;
pub mod docs;
pub mod evaluate;
pub mod frame;
pub mod model;
pub mod train;
pub mod transform;

pub(crate) use transform::chosen_columns as transform_columns;

use pipewright_engine::Catalog;

/// Every block of this build.
pub fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.register(data::SampleDataset);
    c.register(data::ImportData);
    c.register(data::EnterDataManually);
    c.register(data::ExportData);
    c.register(transform::SelectColumns);
    c.register(transform::EditMetadata);
    c.register(transform::CleanMissingData);
    c.register(transform::NormalizeData);
    c.register(transform::PrincipalComponentAnalysis);
    c.register(transform::FilterBasedFeatureSelection);
    c.register(transform::ConvertToIndicatorValues);
    c.register(transform::SplitData);
    c.register(transform::ApplyTransformation);
    c.register(transform::ApplySqlTransformation);
    c.register(transform::AddColumns);
    c.register(transform::AddRows);
    c.register(transform::JoinData);
    c.register(transform::RemoveDuplicateRows);
    c.register(transform::GroupDataIntoBins);
    c.register(transform::ClipValues);
    c.register(transform::ApplyMathOperation);
    c.register(transform::PartitionAndSample);
    c.register(transform::SummarizeData);
    c.register(transform::FilterRows);
    c.register(transform::GroupBy);
    c.register(transform::Smote);
    c.register(model::TwoClassLogisticRegression);
    c.register(model::MulticlassLogisticRegression);
    c.register(model::LinearRegression);
    c.register(model::DecisionForest);
    c.register(model::DecisionForestRegression);
    c.register(model::KMeansClustering);
    c.register(model::OneVsAllMulticlass);
    c.register(model::DecisionTree);
    c.register(model::KNearestNeighbors);
    c.register(model::KNearestNeighborsRegression);
    c.register(model::NaiveBayes);
    c.register(model::AveragedPerceptron);
    c.register(model::SupportVectorMachine);
    c.register(model::PoissonRegression);
    c.register(model::BoostedDecisionTree);
    c.register(model::BoostedDecisionTreeRegression);
    c.register(model::Dbscan);
    c.register(model::AgglomerativeClustering);
    c.register(model::GaussianMixture);
    c.register(model::NeuralNetwork);
    c.register(model::NeuralNetworkRegression);
    c.register(model::OneVsOneMulticlass);
    c.register(model::FastForestQuantileRegression);
    c.register(model::IsolationForest);
    c.register(model::PcaAnomalyDetection);
    c.register(model::OneClassSvm);
    c.register(train::TrainModel);
    c.register(train::CrossValidateModel);
    c.register(train::TuneModelHyperparameters);
    c.register(train::TrainClusteringModel);
    c.register(train::TrainAnomalyDetectionModel);
    c.register(train::ScoreModel);
    c.register(train::AssignDataToClusters);
    c.register(evaluate::EvaluateModel);
    c.register(evaluate::PermutationFeatureImportance);
    c.register(deploy::ExportModelPackage);
    c.register(deploy::BatchScore);
    c
}
