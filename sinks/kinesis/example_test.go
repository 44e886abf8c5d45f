package kinesis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/sinks/kinesis"
)

// A producer outside a pipeline, as `shardflow produce` uses it: Put per
// event, Linger so that a slow rate still sends every second, Flush at the end.
func ExampleProducer() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx) // AWS_REGION, AWS_ENDPOINT_URL_KINESIS, ...
	if err != nil {
		log.Fatal(err)
	}
	p, err := kinesis.NewProducer(kinesis.ProducerConfig{
		Stream:    "clickstream",
		Client:    awskinesis.NewFromConfig(cfg),
		Aggregate: true,
		Linger:    time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1000 {
		user := fmt.Sprintf("user-%d", i%50)
		if err := p.Put(ctx, user, fmt.Appendf(nil, `{"user_id":%q,"n":%d}`, user, i)); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Stats().Records, "records written")
}
