module example.invalid/ferry/goyamloracle

go 1.26.8

require (
	sigs.k8s.io/yaml v1.6.0
	go.yaml.in/yaml/v3 v3.0.4
)
