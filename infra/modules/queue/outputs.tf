output "id" {
  description = "Full resource name: projects/<p>/locations/<l>/queues/<name>."
  value       = google_cloud_tasks_queue.this.id
}

output "name" {
  description = "Queue name (what send_message enqueues onto)."
  value       = google_cloud_tasks_queue.this.name
}

output "location" {
  description = "Queue location."
  value       = google_cloud_tasks_queue.this.location
}
