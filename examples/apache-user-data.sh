#!/bin/bash
# Job Work Planner backend: Apache on Amazon Linux 2, answering /health.
set -euo pipefail
yum update -y
yum install -y httpd
mkdir -p /var/www/html
echo '{"status":"ok"}' > /var/www/html/health
systemctl enable --now httpd
