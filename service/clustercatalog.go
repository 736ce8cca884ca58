package service

import (
	"fmt"
	"slices"
)

// kiln's runtimes and node types. Each runtime key is one Databricks
// publishes, so that SDK helpers (SelectSparkVersion, SelectNodeType),
// Terraform's databricks_spark_version and databricks_node_type data
// sources, and configurations written for a real workspace resolve and
// validate on kiln. Every one of them runs on the same local Python
// executor: the key is a name, not a Spark.

// SparkVersion is one runtime of clusters/spark-versions.
type SparkVersion struct {
	Key  string
	Name string
}

// databricksRuntimes are the runtime keys and names as Databricks lists
// them (several LTS and non-LTS releases, with ML, GPU ML and Photon
// variants), newest first.
var databricksRuntimes = []SparkVersion{
	{"17.0.x-scala2.13", "17.0 (includes Apache Spark 4.0.0, Scala 2.13)"},
	{"17.0.x-cpu-ml-scala2.13", "17.0 ML (includes Apache Spark 4.0.0, Scala 2.13)"},
	{"17.0.x-photon-scala2.13", "17.0 Photon (includes Apache Spark 4.0.0, Scala 2.13)"},
	{"16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"},
	{"16.4.x-cpu-ml-scala2.12", "16.4 LTS ML (includes Apache Spark 3.5.2, Scala 2.12)"},
	{"16.4.x-gpu-ml-scala2.12", "16.4 LTS ML (includes Apache Spark 3.5.2, GPU, Scala 2.12)"},
	{"16.4.x-photon-scala2.12", "16.4 LTS Photon (includes Apache Spark 3.5.2, Scala 2.12)"},
	{"16.3.x-scala2.12", "16.3 (includes Apache Spark 3.5.2, Scala 2.12)"},
	{"16.3.x-cpu-ml-scala2.12", "16.3 ML (includes Apache Spark 3.5.2, Scala 2.12)"},
	{"15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"15.4.x-cpu-ml-scala2.12", "15.4 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"15.4.x-gpu-ml-scala2.12", "15.4 LTS ML (includes Apache Spark 3.5.0, GPU, Scala 2.12)"},
	{"15.4.x-photon-scala2.12", "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"14.3.x-scala2.12", "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"14.3.x-cpu-ml-scala2.12", "14.3 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"14.3.x-photon-scala2.12", "14.3 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"},
	{"13.3.x-scala2.12", "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"},
	{"13.3.x-cpu-ml-scala2.12", "13.3 LTS ML (includes Apache Spark 3.4.1, Scala 2.12)"},
	{"12.2.x-scala2.12", "12.2 LTS (includes Apache Spark 3.3.2, Scala 2.12)"},
}

// LocalSparkVersion is the runtime key of kiln's own executor, which the
// fixed local cluster (kiln.LocalClusterID) shows.
func LocalSparkVersion(c Compute) SparkVersion {
	if c.PythonVersion == "" {
		return SparkVersion{"kiln-python3", "kiln local executor (python3)"}
	}
	return SparkVersion{"kiln-python" + c.PythonVersion, fmt.Sprintf("kiln local executor (Python %s)", c.PythonVersion)}
}

// SparkVersions lists the runtimes clusters may name: kiln's own first,
// then Databricks' keys.
func SparkVersions(c Compute) []SparkVersion {
	return append([]SparkVersion{LocalSparkVersion(c)}, databricksRuntimes...)
}

// NodeType is one node type of clusters/list-node-types.
type NodeType struct {
	ID          string
	Cores       int
	MemoryMB    int64
	GPUs        int
	LocalDisks  int // NVMe instance-store disks
	LocalDiskGB int
	Category    string
	Description string
	// Photon says the node type may run Photon (driver and workers).
	Photon bool
}

// LocalNodeType is the node type of the fixed local cluster: this server.
const LocalNodeType = "kiln-local"

// databricksNodeTypes are AWS instance types as Databricks lists them.
var databricksNodeTypes = []NodeType{
	{"m5d.large", 2, 8192, 0, 1, 75, "General Purpose", "", true},
	{"m5d.xlarge", 4, 16384, 0, 1, 150, "General Purpose", "", true},
	{"m5d.2xlarge", 8, 32768, 0, 1, 300, "General Purpose", "", true},
	{"m5d.4xlarge", 16, 65536, 0, 2, 300, "General Purpose", "", true},
	{"m5.large", 2, 8192, 0, 0, 0, "General Purpose", "", false},
	{"m5.xlarge", 4, 16384, 0, 0, 0, "General Purpose", "", false},
	{"r5d.large", 2, 16384, 0, 1, 75, "Memory Optimized", "", true},
	{"r5d.xlarge", 4, 32768, 0, 1, 150, "Memory Optimized", "", true},
	{"i3.xlarge", 4, 31232, 0, 1, 950, "Storage Optimized", "", true},
	{"i3.2xlarge", 8, 62464, 0, 1, 1900, "Storage Optimized", "", true},
	{"c5d.xlarge", 4, 8192, 0, 1, 100, "Compute Optimized", "", true},
	{"c5d.2xlarge", 8, 16384, 0, 1, 200, "Compute Optimized", "", true},
	{"g4dn.xlarge", 4, 16384, 1, 1, 125, "GPU Accelerated", "", false},
}

// NodeTypes lists the node types clusters may name: this server's own,
// then Databricks' AWS types, every one served by the local executor.
func NodeTypes(c Compute) []NodeType {
	local := NodeType{ID: LocalNodeType, Cores: c.Cores, MemoryMB: c.MemoryMB, LocalDisks: 1, Category: "General Purpose",
		Description: fmt.Sprintf("This kiln server: %d cores, %d MB, %d concurrent tasks", c.Cores, c.MemoryMB, c.Workers)}
	out := []NodeType{local}
	for _, n := range databricksNodeTypes {
		n.Description = n.ID + " (runs on kiln's local executor)"
		out = append(out, n)
	}
	return out
}

// knownSparkVersion reports whether clusters may name key.
func knownSparkVersion(c Compute, key string) bool {
	return slices.ContainsFunc(SparkVersions(c), func(v SparkVersion) bool { return v.Key == key })
}

// knownNodeType reports whether clusters may name id.
func knownNodeType(id string) bool {
	return id == LocalNodeType || slices.ContainsFunc(databricksNodeTypes, func(n NodeType) bool { return n.ID == id })
}
