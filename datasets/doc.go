// Package datasets will hold the Hugging Face parquet readers, the dataset makers (cord_v2,
// medpix, raven), the prepared-sample Arrow schema, shard writer/reader and the training loader.
//
// It is empty at this stage of the project: the foundation (tensors/, kernels/) comes first.
package datasets
